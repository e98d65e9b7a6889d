"""Cycle records, health numbers and housekeeping."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.core.timeutil import iso, parse_iso
from monitor.storage.base import StorageBase
from monitor.storage.records import CycleRow, StatusCounts


class OperationsMixin(StorageBase):
    def start_cycle(self, now: datetime) -> int:
        with self.transaction():
            cursor = self.db.execute("INSERT INTO cycles (started_at) VALUES (?)", (iso(now),))
        return int(cursor.lastrowid or 0)

    def finish_cycle(self, cycle_id: int, now: datetime, **counts: Any) -> None:
        started = parse_iso(self._value("SELECT started_at FROM cycles WHERE id = ?", (cycle_id,)))
        duration = (now - started).total_seconds() if started else None
        sets = ", ".join(f"{k} = ?" for k in counts)
        with self.transaction():
            self.db.execute(
                f"UPDATE cycles SET finished_at = ?, duration = ?, {sets} WHERE id = ?",
                (iso(now), duration, *counts.values(), cycle_id),
            )

    def last_cycle(self, finished_only: bool = True) -> CycleRow | None:
        where = "WHERE finished_at IS NOT NULL" if finished_only else ""
        return self._record(CycleRow, f"SELECT * FROM cycles {where} ORDER BY id DESC LIMIT 1")

    def status_counts(self, hits_since: datetime) -> StatusCounts:
        """Numbers for `monitor status` and the bot's /status."""
        feeds = self._rows(
            """SELECT count(*) AS total, sum(failures = 0) AS ok, sum(failures > 0) AS failing,
                 max(last_ok_at) AS last_ok_at FROM feeds WHERE active = 1"""
        )[0]
        return {
            "feeds_total": feeds["total"] or 0,
            "feeds_ok": feeds["ok"] or 0,
            "feeds_failing": feeds["failing"] or 0,
            "last_feed_ok_at": feeds["last_ok_at"],
            "articles": self._value("SELECT count(*) FROM articles"),
            "hits_today": self._value(
                "SELECT count(*) FROM hits WHERE created_at >= ?", (iso(hits_since),)
            ),
            "outbox_pending": self._value(
                "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
            ),
            "outbox_held": self._value("SELECT count(*) FROM outbox WHERE status = 'held'"),
            "outbox_failed": self._value("SELECT count(*) FROM outbox WHERE status = 'failed'"),
            "outbox_oldest_pending": self._value(
                "SELECT min(created_at) FROM outbox WHERE status IN ('pending', 'sending')"
            ),
            "subscribers": self._value(
                "SELECT count(DISTINCT chat_id) FROM subscriptions WHERE paused = 0"
            ),
        }

    def prune_batch(self, cutoff: datetime, limit: int = 500) -> int:
        """Delete up to `limit` articles first seen before `cutoff` that no hit refers to,
        with their feed links; hits and their articles are kept for good. Small batches,
        each its own short transaction, so a big backlog never holds the write lock long."""
        with self.transaction():
            ids = [
                r["id"]
                for r in self._rows(
                    """SELECT id FROM articles WHERE seen_at < ?
                     AND NOT EXISTS (SELECT 1 FROM hits WHERE hits.article_id = articles.id)
                   LIMIT ?""",
                    (iso(cutoff), limit),
                )
            ]
            if not ids:
                return 0
            marks = ",".join("?" * len(ids))
            self.db.execute(f"DELETE FROM article_feeds WHERE article_id IN ({marks})", ids)
            self.db.execute(f"DELETE FROM articles WHERE id IN ({marks})", ids)
        return len(ids)

    def prune_logs(self, cutoff: datetime) -> int:
        """Delivered or failed outbox rows, cycle records and vote-button tokens older than
        `cutoff` (a vote on a message that old gets the polite "expired" answer)."""
        with self.transaction():
            removed = 0
            for sql in (
                "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND created_at < ?",
                "DELETE FROM cycles WHERE started_at < ?",
                "DELETE FROM vote_targets WHERE created_at < ?",
            ):
                removed += self.db.execute(sql, (iso(cutoff),)).rowcount
        return removed

    def optimize(self) -> None:
        """VACUUM-free upkeep: refresh the planner's statistics, fold the WAL back."""
        self.db.execute("PRAGMA optimize")
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
