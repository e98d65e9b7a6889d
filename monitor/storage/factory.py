"""Which database a config names: `[storage] url` (PostgreSQL) or `[storage] path` (SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from monitor.core.config import Config
from monitor.core.errors import UserError
from monitor.storage import Store

if TYPE_CHECKING:
    from monitor.storage.postgres import PgStore


def open_store(config: Config, migrate: bool = True) -> Store:
    """The configured database, opened (and migrated, unless `migrate` is False)."""
    storage = config.storage
    if storage.url:
        from monitor.storage.postgres import PgStore  # psycopg loads only when asked for

        return PgStore(storage.url, busy_timeout=storage.busy_timeout_seconds, migrate=migrate)
    return Store(storage.path, busy_timeout=storage.busy_timeout_seconds, migrate=migrate)


def open_existing_store(config: Config) -> Store:
    """The database, for commands that only read it: never create an empty SQLite file.
    (A PostgreSQL database exists before we connect: the operator made it.)"""
    path = Path(config.storage.path)
    if not config.storage.url and str(path) != ":memory:" and not path.exists():
        raise UserError(
            f"{path}: no database yet", hint="collect articles first: monitor poll --once"
        )
    return open_store(config)


def open_postgres(url: str, busy_timeout: float = 30) -> PgStore:
    """A PostgreSQL database by URL (the target of `monitor migrate --to`), migrated."""
    from monitor.storage.postgres import PgStore

    return PgStore(url, busy_timeout=busy_timeout)
