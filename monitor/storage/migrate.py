"""What `monitor migrate` asks of a database: the migrations applied and pending, and
applying them. (Every other command migrates on open, as it always has.)"""

from __future__ import annotations

from monitor.storage.base import StorageBase
from monitor.storage.records import MigrationRow
from monitor.storage.schema import migrations


class MigrationsMixin(StorageBase):
    backend = "SQLite"

    def schema_migrations(self) -> list[MigrationRow]:
        """Applied ones first, in the order they were applied, then the pending ones."""
        rows: list[MigrationRow] = [
            {"name": m.name, "applied_at": m.applied_at} for m in migrations.applied(self.db)
        ]
        rows += [{"name": m.name, "applied_at": None} for m in migrations.pending(self.db)]
        return rows

    def apply_migrations(self) -> list[str]:
        """Apply the pending migrations, each in its own transaction; their names."""
        pending = [m.name for m in migrations.pending(self.db)]
        if pending:
            migrations.apply(self.db)
        return pending
