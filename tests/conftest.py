"""Shared fixtures: a fixed clock, a temporary database, sample watchlists and config.

Tests never touch the internet: feeds come from `fakes.feed_server`, Telegram
from `fakes.bot_api`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import fakes...` from any cwd

from fakes.bot_api import FakeBotAPI  # noqa: E402

from monitor.core.config import (  # noqa: E402
    Config,
    DigestConfig,
    PollConfig,
    StorageConfig,
    WatchlistsConfig,
)
from monitor.digests.page import write_index, write_page  # noqa: E402
from monitor.digests.render import render_telegram_parts  # noqa: E402
from monitor.storage import Store  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
SHIPPED_WATCHLISTS = ROOT / "watchlists"
DEMO_FEEDS = ROOT / "monitor" / "cli" / "demo_feeds"
SHARED = ROOT.parent / "shared"

SAMPLE_WATCHLIST = """\
[watchlist]
id = "sample"
title = "Sample watchlist"

[[topics]]
id = "dea-immunity"
title = "DEA immunity"
priority = "high"
terms = ["DEA immunity", "inmunidad de agentes de la DEA"]
all_of = [["DEA", "foreign agents", "agentes extranjeros"], ["immunity", "inmunidad"]]
window = 30
exclude = ["vaccine", "vacuna"]

[[topics]]
id = "sheinbaum"
title = "Claudia Sheinbaum"
priority = "normal"
terms = ["Claudia Sheinbaum", "Sheinbaum"]
"""


class Clock:
    """A settable clock: `now` is a parameter wherever time matters."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 20, 15, 0, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path):
    db = Store(tmp_path / "test.db")
    yield db
    db.close()


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server for the session (initdb + pg_ctl in a temp folder), with a
    migrated template database that each test's database is copied from (fast)."""
    from fakes.pg_server import PgServer

    reason = PgServer.unavailable()
    if reason:
        pytest.skip(f"no PostgreSQL server: {reason}")
    with PgServer() as server:
        from monitor.storage.postgres import PgStore

        template = server.create_database("migrated_")
        PgStore(template).close()
        server.template = template.split("@/", 1)[1].split("?")[0]
        yield server


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, migrated PostgreSQL database of its own for one test."""
    import psycopg

    pg_server._databases += 1
    name = f"test{pg_server._databases}"
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_server.template}"')
    return pg_server.url(name)


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path: Path):
    """The same storage contract on both backends: SQLite, and PostgreSQL."""
    if request.param == "sqlite":
        db = Store(tmp_path / "test.db")
    else:
        from monitor.storage.postgres import PgStore

        db = PgStore(request.getfixturevalue("pg_url"))
    yield db
    db.close()


@pytest.fixture
def sample_watchlists(tmp_path: Path) -> Path:
    folder = tmp_path / "watchlists"
    folder.mkdir()
    (folder / "sample.toml").write_text(SAMPLE_WATCHLIST, encoding="utf-8")
    return folder


@pytest.fixture
def config(tmp_path: Path, sample_watchlists: Path) -> Config:
    return Config(
        storage=StorageConfig(path=tmp_path / "monitor.db"),
        watchlists=WatchlistsConfig(path=sample_watchlists),
        poll=replace(PollConfig(), timeout_seconds=2, jitter_seconds=0),
        digest=DigestConfig(html_dir=tmp_path / "digests"),  # never the checkout's data/
    )


# -- the checkout stays as it was ------------------------------------------------------------
_NOT_TREE = {".git", ".venv", ".pytest_cache", ".ruff_cache", ".hypothesis", "__pycache__"}


def _tree() -> dict[str, int]:
    """Every file of the checkout (but caches and the venv), with its modification time."""
    found = {}
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & _NOT_TREE or any(p.endswith(".egg-info") for p in parts) or not path.is_file():
            continue
        found[str(path.relative_to(ROOT))] = path.stat().st_mtime_ns
    return found


def pytest_sessionstart(session) -> None:
    session.config._tree_before = _tree()  # type: ignore[attr-defined]


def pytest_sessionfinish(session, exitstatus) -> None:
    """Tests write only under tmp paths: a test that wrote digest pages into the real
    data/digests made `make run`'s index list fake days. Fail the run if any did."""
    before = getattr(session.config, "_tree_before", None)
    if before is None or getattr(session.config, "workerinput", None) is not None:
        return
    after = _tree()
    changed = sorted(
        {p for p in after if before.get(p) != after[p]} | {p for p in before if p not in after}
    )
    if changed:
        print(f"\ntests changed the checkout: {', '.join(changed[:10])}", file=sys.stderr)
        session.exitstatus = 1


def prime_feeds(store: Store, now: datetime | None = None) -> None:
    """Mark every active feed as fetched before (no validators, so the next poll reads it in
    full): its items are then news that may alert, not the backlog of a first fetch, which
    goes to the digest only."""
    moment = now or datetime(2026, 1, 1, tzinfo=UTC)
    for row in store.feed_rows():
        store.record_fetch(row["url"], moment, ok=True, status=304)


def prime_database(path: Path, urls: list[str]) -> None:
    """`prime_feeds` for a database a `monitor` subprocess will use (it syncs the config's
    feeds itself; these rows are the same)."""
    store = Store(path)
    try:
        store.sync_feeds(((url, None, None) for url in urls), datetime(2026, 1, 1, tzinfo=UTC))
        prime_feeds(store)
    finally:
        store.close()


def outbox_rows(store: Store, kind: str | None = None) -> list[dict]:
    """The outbox as the tests read it (the product reads it through claims only)."""
    sql = "SELECT * FROM outbox" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
    cursor = store.db.execute(sql, (kind,) if kind else ())
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def outbox_counts(store: Store) -> dict[str, int]:
    """Outbox rows per status."""
    return dict(store.db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())


async def fetch_all(fetcher, feeds, then=None):
    """A fetcher's results one at a time as they complete (`fetch_batches` of one)."""
    async with contextlib.aclosing(fetcher.fetch_batches(feeds, then)) as batches:
        async for (item,) in batches:
            yield item


def write_html_archive(digest, html_dir: Path) -> Path:
    """A day's page and the index, as the archive job writes them (digests/archive.py)."""
    page = write_page(digest, html_dir)
    write_index(html_dir)
    return page


def render_telegram(digest) -> list[str]:
    """A digest's Telegram messages, as text."""
    return [part.text for part in render_telegram_parts(digest)]


def wait_until(condition, seconds: float = 20.0) -> bool:
    """Poll `condition` every 100 ms until it holds (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def db_count(db: Path, sql: str) -> int:
    """One number from a `monitor` subprocess's database, read-only as an operator would;
    0 while it does not exist yet."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def run_monitor(*args: str, cwd: Path, stdin: str | None = None, timeout: float = 90):
    """Run the `monitor` command as a user would: a subprocess, no token, minimal env."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def rss(items: list[dict], title: str = "Test feed") -> bytes:
    """A small RSS 2.0 document; item values are inserted as given (escape them yourself)."""
    body = []
    for item in items:
        fields = "".join(f"<{k}>{v}</{k}>" for k, v in item.items())
        body.append(f"<item>{fields}</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.org/</link><description>t</description>"
        + "".join(body)
        + "</channel></rss>"
    ).encode()


@pytest.fixture
def fake():
    """A local fake Bot API server; a test fails if the bot sent it anything malformed."""
    with FakeBotAPI() as server:
        yield server
        assert server.errors == []
