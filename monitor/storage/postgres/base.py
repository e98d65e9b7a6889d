"""The PostgreSQL base: a psycopg pool, transactions, and psycopg errors wrapped at the boundary.

The aggregates' SQL that both engines read alike is shared: the SQLite mixins run
here unchanged, through `_PgDatabase`, which speaks their dialect's few portable
spellings (`?` and `:name` placeholders, `INSERT OR IGNORE`, an empty `IN ()`)
in PostgreSQL's. Whatever is not portable (JSON aggregates, full-text search,
`lastrowid`, sums of booleans) is written again in this package's mixins.

Connections come from the pool per statement; a transaction keeps one for its
thread until it ends. The outermost transaction takes one advisory lock for the
whole database, as SQLite's BEGIN IMMEDIATE takes its write lock: the pipeline
was written for one writer at a time (an article is looked up, then stored), and
workers that store concurrently would race on that. Fetching, parsing and
matching, the costly part, run outside it; the scale-out bookkeeping (claims,
heartbeats) uses `transaction(exclusive=False)` and never waits for it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from monitor.core.errors import DatabaseBusy, StoreError
from monitor.storage.base import Record, StorageBase
from monitor.storage.postgres import schema  # it imports this module for types only
from monitor.storage.records import MigrationRow

try:  # an optional dependency: SQLite users never need it
    import psycopg
    import psycopg.errors
    import psycopg_pool
except ImportError:  # pragma: no cover - the message says what to install
    psycopg = None  # type: ignore[assignment]  # checked before any use, in PgBase.__init__
    psycopg_pool = None  # type: ignore[assignment]  # the same

WRITE_LOCK = 0x6E6D_0001  # advisory lock keys: "nm" and a number; the writer's
# 0x6E6D_0002: whoever migrates (schema.MIGRATION_LOCK)
BOT_LOCK = 0x6E6D_0003  # ... the worker that runs the bot and the digests

_BUSY = ("LockNotAvailable", "DeadlockDetected", "SerializationFailure", "QueryCanceled")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def pg_error(url: str, exc: Exception) -> StoreError:
    """A psycopg error as the one line (and hint) an operator can act on."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = redact(url)
    if type(exc).__name__ in _BUSY or isinstance(exc, psycopg_pool.PoolTimeout):
        hint = "the server is busy or every connection is taken; try again in a moment"
        return DatabaseBusy(f"database busy ({where}): {text}", hint=hint)
    if isinstance(exc, psycopg.OperationalError):
        hint = "check [storage] url, that the server runs and that it accepts this user"
        return StoreError(f"database unreachable ({where}): {text}", hint=hint)
    return StoreError(f"database error ({where}): {text}")


_PLACEHOLDER = re.compile(r"(?<![:\w])(\?|:([A-Za-z_]\w*))")
_EMPTY_IN = re.compile(r"\bIN\s*\(\s*\)", re.IGNORECASE)
_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\b", re.IGNORECASE)


def translate(sql: str, with_params: bool = True) -> str:
    """SQLite's portable spellings in PostgreSQL's: `?` -> `%s`, `:name` -> `%(name)s`
    (a `::cast` is left alone), `INSERT OR IGNORE` -> `... ON CONFLICT DO NOTHING`, and
    an empty `IN ()`, which SQLite allows and PostgreSQL does not, as an empty subquery.
    A literal `%` is doubled only where psycopg will read placeholders (with parameters)."""
    if with_params:
        sql = sql.replace("%", "%%")
    sql = _EMPTY_IN.sub("IN (SELECT NULL WHERE false)", sql)
    if _OR_IGNORE.search(sql):
        sql = _OR_IGNORE.sub("INSERT", sql).rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return _PLACEHOLDER.sub(lambda m: "%s" if m.group(1) == "?" else f"%({m.group(2)})s", sql)


class _Result:
    """A statement's rows, read at once, so the connection goes back to the pool."""

    def __init__(self, cursor: Any) -> None:
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self.lastrowid = None  # PostgreSQL has none: the PG mixins use RETURNING
        self._rows: list[tuple] = cursor.fetchall() if cursor.description else []

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple]:
        return list(self._rows)

    def __iter__(self) -> Iterator[tuple]:
        return iter(self._rows)


class _PgDatabase:
    """What the shared mixins call `self.db` (and `self.db.conn`), on PostgreSQL."""

    def __init__(self, store: PgBase) -> None:
        self._store = store

    @property
    def conn(self) -> _PgDatabase:
        return self

    @property
    def in_transaction(self) -> bool:
        return getattr(self._store._local, "conn", None) is not None

    def commit(self) -> None:
        """Statements outside a transaction commit on their own (autocommit)."""

    def execute(self, sql: str, params: Any = None) -> _Result:
        return self._store._run(translate(sql, bool(params)), params)

    def executemany(self, sql: str, rows: Sequence[Any]) -> None:
        if rows:
            self._store._run(translate(sql), rows, many=True)


class PgBase(StorageBase):
    """The PostgreSQL database behind `[storage] url`, opened and migrated."""

    backend = "PostgreSQL"
    shared = True

    def __init__(
        self, url: str, busy_timeout: float = 30, pool_size: int = 8, migrate: bool = True
    ) -> None:
        if psycopg is None:
            raise StoreError(
                "[storage] url needs psycopg, which is not installed",
                hint="pip install 'psycopg[binary,pool]'",
            )
        self.url = url
        self.path = redact(url)  # what messages and `monitor status` name
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._titles = None
        self._pg = _PgDatabase(self)
        try:
            self._pool = psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                timeout=busy_timeout,
                kwargs={"autocommit": True},
                open=False,
                name="news-monitor",
            )
            self._pool.open(wait=True, timeout=min(busy_timeout, 10))
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StoreError(
                f"cannot open database {self.path}: {exc}",
                hint="check [storage] url and that the server is running",
            ) from exc
        if migrate:
            try:
                schema.apply_migrations(self)
            except BaseException:
                self.close()
                raise

    def schema_migrations(self) -> list[MigrationRow]:
        """Applied ones first, in the order they were applied, then the pending ones."""
        rows: list[MigrationRow] = [
            {"name": r["name"], "applied_at": r["applied_at"]}
            for r in schema.applied_migrations(self)
        ]
        return rows + [{"name": n, "applied_at": None} for n in schema.pending_migrations(self)]

    def apply_migrations(self) -> list[str]:
        """Apply the pending migrations (workers starting at once take turns); their names."""
        return schema.apply_migrations(self)

    @property
    def db(self) -> Any:  # the shared mixins' `db`, on PostgreSQL
        return self._pg

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None and not pool.closed:
            pool.close(timeout=5)
        self._local = threading.local()

    def _run(self, sql: str, params: Any = None, many: bool = False) -> _Result:
        conn = getattr(self._local, "conn", None)
        try:
            if conn is not None:
                return self._on(conn, sql, params, many)
            with self._pool.connection() as conn:
                return self._on(conn, sql, params, many)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise pg_error(self.url, exc) from exc

    @staticmethod
    def _on(conn: Any, sql: str, params: Any, many: bool) -> _Result:
        with conn.cursor() as cursor:
            if many:
                cursor.executemany(sql, params)
            else:
                # no parameters: the simple protocol, which also runs several statements
                cursor.execute(sql, params if params else None)
            return _Result(cursor)

    def sql(self, sql: str, params: Any = None) -> _Result:
        """A statement in PostgreSQL's own dialect (`%s` placeholders), for the PG mixins."""
        return self._run(sql, params)

    def pg_records(self, record: type[Record], sql: str, params: Any = None) -> list[Record]:
        """Rows as the typed record whose keys the SELECT names (records.py)."""
        return cast(list[Record], self.pg_rows(sql, params))

    def pg_rows(self, sql: str, params: Any = None) -> list[dict]:
        result = self._run(sql, params)
        names = [d.name for d in result.description or ()]
        return [dict(zip(names, row, strict=True)) for row in result]

    def pg_value(self, sql: str, params: Any = None) -> Any:
        row = self._run(sql, params).fetchone()
        return row[0] if row else None

    @contextmanager
    def transaction(self, exclusive: bool = True) -> Iterator[None]:
        """Everything inside commits together or not at all; nested calls are savepoints.
        The outermost one holds the write lock unless `exclusive` is False (see above)."""
        conn = getattr(self._local, "conn", None)
        try:
            if conn is not None:
                with conn.transaction():  # a savepoint
                    yield
                return
            with self._pool.connection() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        if exclusive:
                            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                        yield
                finally:
                    self._local.conn = None
        except BaseException as exc:
            self._titles = None  # it may hold titles that were rolled back: reload
            if isinstance(exc, psycopg.Error | psycopg_pool.PoolTimeout):
                raise pg_error(self.url, exc) from exc
            raise
