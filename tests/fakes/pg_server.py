"""A throwaway PostgreSQL server for tests and benchmarks: `initdb` and `pg_ctl` in a temp
folder, listening on a Unix socket only (no TCP port, nothing to collide with).

The binaries come from Debian's `postgresql` package (on PATH, or in
/usr/lib/postgresql/<version>/bin); `.ci/run` installs it where it is missing.
PostgreSQL refuses to run as root, so as root the server runs as the `postgres`
user the package creates. `PgServer.unavailable()` says why a server cannot be
started, for a test's skip reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


class PgServer:
    """`with PgServer() as pg:` a running server; `pg.url(dbname)` a URL for monitor."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="news-monitor-pg-"))
        self.data = self.folder / "data"
        self.user = "postgres"
        self._as: list[str] = []
        self._databases = 0

    @staticmethod
    def unavailable() -> str | None:
        """None when a server can be started here, else the reason."""
        if _binary("initdb") is None or _binary("pg_ctl") is None:
            return "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' user to run the server as"
            if shutil.which("runuser") is None:
                return "running as root without runuser to start the server as 'postgres'"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg is not installed: pip install 'psycopg[binary,pool]'"
        return None

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> PgServer:
        if os.geteuid() == 0:
            os.chown(self.folder, pwd.getpwnam("postgres").pw_uid, -1)
            self._as = ["runuser", "-u", "postgres", "--"]
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        assert initdb and pg_ctl
        self._run(
            initdb, "-D", str(self.data), "-U", self.user, "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8", "-N",
        )  # fmt: skip
        options = (
            f"-k {self.folder} -c listen_addresses= -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            pg_ctl, "-D", str(self.data), "-o", options, "-w", "-t", "60",
            "-l", str(self.folder / "server.log"), "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        pg_ctl = _binary("pg_ctl")
        if pg_ctl and self.data.exists():
            subprocess.run(
                [*self._as, pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{dbname}?host={self.folder}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        import psycopg

        self._databases += 1
        name = f"{prefix}{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
