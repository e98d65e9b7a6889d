"""One connection per thread, transactions, and foreign errors wrapped at the boundary.

Every aggregate's mixin (feeds.py, articles.py, ...) builds on `StorageBase`, as
lemon24/reader's storage does; `Store` (in `__init__`) puts them together.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlite_utils

from monitor.core.errors import DatabaseBusy, StoreError
from monitor.storage.schema import migrations
from monitor.text.recenttitles import RecentTitles

SQL_BATCH = 400  # ids per IN (...) list, well under SQLite's variable limit


def store_error(path: str, exc: sqlite3.Error) -> StoreError:
    """A sqlite3 error as the one line (and hint) an operator can act on."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        hint = "another process holds a write lock on it; try again in a moment"
        return DatabaseBusy(f"database busy ({path}): {text}", hint=hint)
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError):
        hint = "the file may be damaged or not this program's database: restore a backup"
    else:
        hint = ""
    return StoreError(f"database error ({path}): {text}", hint=hint)


class _Database(sqlite_utils.Database):
    """sqlite-utils' Database whose statements raise `StoreError`, never sqlite3's own
    errors: "database is locked" is then one line from the CLI, not a traceback."""

    conn_path = ""  # for the messages

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise store_error(self.conn_path, exc) from exc


Record = TypeVar("Record")  # a TypedDict of records.py


def wraps_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """A public storage method whose sqlite3 errors leave it as `StoreError`s."""

    @functools.wraps(method)
    def call(self: StorageBase, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from exc

    call.wraps_errors = True  # type: ignore[attr-defined]  # a marker the tests look for
    return call


class StorageBase:
    # Several services may use the database at once (PostgreSQL: they divide the feeds
    # and elect who runs the bot). Asked of the store, not by isinstance, so that psycopg
    # loads only where it is used: it is 9 MB of a service's memory.
    shared = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every public method of a mixin wraps foreign errors at the boundary: callers
        catch `StoreError` (core.errors), never sqlite3's, whatever path raised it."""
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(value):
                setattr(cls, name, wraps_errors(value))

    def __init__(self, path: Path | str, busy_timeout: float = 30, migrate: bool = True) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Database] = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        # ":memory:" would be one database per connection: name one shared in-memory one
        self._target = (
            f"file:news-monitor-{id(self)}?mode=memory&cache=shared"
            if self.path == ":memory:"
            else self.path
        )
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._prepare(migrate=migrate)
            self._titles: RecentTitles | None = None  # recent titles, loaded on first use
        except (sqlite3.Error, OSError, StoreError) as exc:
            self.close()
            raise StoreError(
                f"cannot open database {self.path}: {getattr(exc, '__cause__', None) or exc}",
                hint="check [storage] path and that its folder is writable",
            ) from exc

    @property
    def db(self) -> _Database:
        """This thread's connection, opened on first use."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def _connect(self) -> _Database:
        conn = sqlite3.connect(
            self._target,
            timeout=self.busy_timeout,
            check_same_thread=False,  # only so that `close` may close it from another thread
            uri=self.path == ":memory:",
        )
        db = _Database(conn)
        db.conn_path = self.path
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._connections_lock:
            self._connections.add(db)
        return db

    def _prepare(self, attempts: int = 20, migrate: bool = True) -> None:
        """WAL mode and migrations (unless `migrate` is False: `monitor migrate` lists
        what is pending before it applies anything). Two processes opening a new database at once (the
        worker and `monitor status`) can see SQLITE_BUSY on the journal-mode switch,
        which the busy timeout does not cover, so that step is retried briefly."""
        for attempt in range(attempts):
            try:
                if self.path != ":memory:":
                    self.db.execute("PRAGMA journal_mode=WAL")
                # checkpoint every 64 MB of WAL, not 4 MB: big cycles write in bursts
                self.db.execute("PRAGMA wal_autocheckpoint=16384")
                if migrate:
                    migrations.apply(self.db)
                return
            except StoreError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))

    def close(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for db in connections:
            db.close()
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all; nested calls are savepoints.

        The outermost one begins IMMEDIATE: it takes SQLite's write lock at once (waiting
        up to the busy timeout for another writer), so a transaction that read first can
        never fail to upgrade to a write halfway through.
        """
        db = self.db
        try:
            if db.conn.in_transaction:
                with db.atomic():  # a savepoint
                    yield
                return
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                db.conn.execute("COMMIT")
            except BaseException:
                db.conn.rollback()  # a no-op when COMMIT itself ended the transaction
                raise
        except BaseException as exc:
            self._titles = None  # it may hold titles that were rolled back: reload
            if isinstance(exc, sqlite3.Error):
                raise store_error(self.path, exc) from exc
            raise

    def _rows(self, sql: str, params: Sequence[Any] | dict = ()) -> list[dict]:
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _records(
        self, record: type[Record], sql: str, params: Sequence[Any] | dict = ()
    ) -> list[Record]:
        """Rows as the typed record whose keys the SELECT names (records.py)."""
        return cast(list[Record], self._rows(sql, params))

    def _record(
        self, record: type[Record], sql: str, params: Sequence[Any] | dict = ()
    ) -> Record | None:
        rows = self._records(record, sql, params)
        return rows[0] if rows else None

    def _value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None


def chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), SQL_BATCH):
        yield list(values[start : start + SQL_BATCH])
