"""`monitor migrate --to`: an existing SQLite database copied into an empty PostgreSQL one.

Table by table with the same column names, in one transaction (all or nothing), read
from one SQLite snapshot, so a worker still writing to the file cannot tear the copy.
Ids are copied as they are (votes, digests and chats point at hit ids), then each
serial column's sequence moves past the highest id copied, or past SQLite's own
AUTOINCREMENT counter where that is higher (hit ids are never reused, m008). The
search index is rebuilt from the copied articles. Leases (`outbox_senders`) and the
search index tables are not copied: they are SQLite's own or in-flight state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.core.errors import StoreError, UserError
from monitor.storage.postgres.search import PgSearchMixin
from monitor.storage.records import CopyReport

if TYPE_CHECKING:
    from monitor.storage import Store

NOT_COPIED = {"_sqlite_migrations", "search_index", "outbox_senders"}


def sqlite_tables(source: Store) -> dict[str, list[str]]:
    """The SQLite tables to copy, in the order they were made, and their columns."""
    tables = {}
    listed = source.db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
    ).fetchall()
    for name, sql in listed:
        virtual = (sql or "").upper().startswith("CREATE VIRTUAL")
        if name.startswith(("sqlite_", "articles_fts")) or virtual or name in NOT_COPIED:
            continue
        info = source.db.execute(f'PRAGMA table_info("{name}")').fetchall()
        tables[name] = [row[1] for row in info]
    return tables


def _autoincrement(source: Store, table: str) -> int:
    if not source.db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ).fetchone():
        return 0
    row = source.db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return int(row[0]) if row else 0


class PgTransferMixin(PgSearchMixin):
    def copy_from_sqlite(self, source: Store) -> CopyReport:
        """Copy every table of `source` here; refuses (UserError) unless this is empty."""
        tables = sqlite_tables(source)
        here: dict[str, set[str]] = {}
        for row in self.pg_rows(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = current_schema()"""
        ):
            here.setdefault(row["table_name"], set()).add(row["column_name"])
        for table, columns in tables.items():
            missing = [c for c in columns if c not in here.get(table, set())]
            if table not in here or missing:
                what = f"columns {', '.join(missing)}" if table in here else "the table"
                raise StoreError(
                    f"SQLite table {table}: PostgreSQL has no {what}",
                    hint="the SQLite database is newer than this version's PostgreSQL schema",
                )
        report: CopyReport = {"tables": {}, "next_ids": {}, "indexed": 0}
        with self.transaction():
            self._refuse_unless_empty(list(tables))
            conn: Any = self._local.conn
            source.db.conn.execute("BEGIN")  # one snapshot of the file for every table
            try:
                for table, columns in tables.items():
                    report["tables"][table] = self._copy_table(source, conn, table, columns)
                report["next_ids"] = self._reset_sequences(source, list(tables))
            finally:
                source.db.conn.rollback()
            self.sql("DELETE FROM articles_fts")
            self.sql("DELETE FROM articles_fts_words")
            self.sql("UPDATE search_index SET indexed_rowid = 0 WHERE id = 1")
            report["indexed"] = self.index_new_articles()
        self._titles = None  # the recent-titles index reloads from the copied articles
        return report

    def _refuse_unless_empty(self, tables: list[str]) -> None:
        full = []
        for table in tables:
            if self.pg_value(f'SELECT EXISTS (SELECT 1 FROM "{table}")'):
                full.append(table)
        if full:
            raise UserError(
                f"{self.path} is not empty ({', '.join(full)} have rows): nothing was copied",
                hint="copy into a new, empty database (createdb), never over one in use",
            )

    @staticmethod
    def _copy_table(source: Store, conn: Any, table: str, columns: list[str]) -> int:
        names = ", ".join(f'"{c}"' for c in columns)
        rows = source.db.conn.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid')
        count = 0
        with conn.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def _reset_sequences(self, source: Store, tables: list[str]) -> dict[str, int]:
        """Each copied table's serial column continues above its highest id; returns the
        next id of each. (`articles.rowid` is always generated: it was not copied.)"""
        serial = self.pg_rows(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = current_schema() AND is_identity = 'YES'
                 AND identity_generation = 'BY DEFAULT' ORDER BY table_name"""
        )
        next_ids = {}
        for row in serial:
            table, column = row["table_name"], row["column_name"]
            if table not in tables:
                continue
            top = self.pg_value(f'SELECT coalesce(max("{column}"), 0) FROM "{table}"')
            top = max(int(top), _autoincrement(source, table))
            self.sql(
                "SELECT setval(pg_get_serial_sequence(%s, %s), %s, %s)",
                (f'"{table}"', column, max(top, 1), top > 0),
            )
            next_ids[f"{table}.{column}"] = top + 1
        return next_ids
