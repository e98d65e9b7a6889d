"""`monitor migrate`: the schema migrations of the configured backend, shown and applied;
`--to postgresql://...` copies the SQLite database into an empty PostgreSQL one."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.core.config import Config, load_config
from monitor.core.errors import UserError
from monitor.storage import Store
from monitor.storage.factory import open_postgres, open_store
from monitor.storage.records import MigrationRow


def run_migrate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.to:
        return copy_to_postgres(config, args.to)
    path = config.storage.path
    missing = not config.storage.url and str(path) != ":memory:" and not Path(path).exists()
    if missing and args.dry_run:  # show what a first `monitor migrate` does, creating nothing
        fresh = Store(":memory:", migrate=False)
        try:
            print(f"SQLite database {path}: none yet")
            _show(fresh.schema_migrations())
        finally:
            fresh.close()
        print("run `monitor migrate` (or any command) to create it")
        return 0
    store = open_store(config, migrate=False)
    try:
        rows = store.schema_migrations()
        print(f"{store.backend} database {store.path}")
        _show(rows)
        pending = [r["name"] for r in rows if r["applied_at"] is None]
        if not pending:
            print(f"up to date: {len(rows)} migrations applied")
            return 0
        if args.dry_run:
            print(f"{len(pending)} pending: run `monitor migrate` to apply them")
            return 0
        applied = store.apply_migrations()
        print(f"applied {len(applied)}: {', '.join(applied) if applied else 'none'}")
        print("up to date")
    finally:
        store.close()
    return 0


def _show(rows: list[MigrationRow]) -> None:
    width = max((len(r["name"]) for r in rows), default=0)
    for row in rows:
        when = row["applied_at"]
        print(
            f"  {'applied' if when else 'pending'}  {row['name']:<{width}}  {when or ''}".rstrip()
        )


def copy_to_postgres(config: Config, url: str) -> int:
    """Every table of the SQLite database at [storage] path, into PostgreSQL at `url`."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise UserError(f"--to {url!r}: expected a postgresql:// URL")
    path = Path(config.storage.path)
    if str(path) == ":memory:" or not path.is_file():
        raise UserError(
            f"{path}: no SQLite database to copy",
            hint="--to copies the database named by [storage] path in the config",
        )
    source = Store(path, busy_timeout=config.storage.busy_timeout_seconds)
    try:
        target = open_postgres(url, busy_timeout=config.storage.busy_timeout_seconds)
        try:
            print(f"copying SQLite {path} into PostgreSQL {target.path}")
            report = target.copy_from_sqlite(source)
        finally:
            target.close()
    finally:
        source.close()
    width = max(len(t) for t in report["tables"])
    for table, count in report["tables"].items():
        print(f"  {table:<{width}}  {count:>9,} rows")
    for column, next_id in report["next_ids"].items():
        print(f"  next {column}: {next_id}")
    print(f"  search index: {report['indexed']:,} articles")
    print(f"copied {sum(report['tables'].values()):,} rows in one transaction")
    print(f'next: set [storage] url = "{target.path}" in the config, then start the workers')
    return 0
