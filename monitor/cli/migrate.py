"""`monitor migrate`: the schema migrations of the configured backend, shown and applied."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.core.config import load_config
from monitor.storage import Store
from monitor.storage.factory import open_store
from monitor.storage.records import MigrationRow


def run_migrate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
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
