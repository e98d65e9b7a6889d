"""PostgreSQL, the second implementation of the storage interface (`[storage] url`).

`PgStore` is a `Store`: the same methods, the same tables and column names, the same
return types. The SQL both engines read alike is the SQLite mixins' own (run through
`base._PgDatabase`); this package holds the rest, and what several workers on one
database need (`workers.py`). Imports only core, text and storage; psycopg lives here.
"""

from __future__ import annotations

from monitor.storage import Store
from monitor.storage.postgres.base import PgBase, redact
from monitor.storage.postgres.dialect import PgDialectMixin
from monitor.storage.postgres.search import PgSearchMixin
from monitor.storage.postgres.transfer import PgTransferMixin
from monitor.storage.postgres.workers import PgWorkersMixin

__all__ = ["PgStore", "redact"]


class PgStore(PgTransferMixin, PgWorkersMixin, PgSearchMixin, PgDialectMixin, PgBase, Store):
    """The PostgreSQL database behind `[storage] url`, opened and migrated."""
