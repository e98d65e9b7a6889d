"""Several workers on one database: feed leases, heartbeats, and who holds the bot.

A worker claims due feeds with `FOR UPDATE SKIP LOCKED` (two workers claiming at
once never wait for each other nor take the same feed) and a lease
(`claimed_by`, `claimed_until`). Storing a feed's poll ends its claim and stamps
`polled_at`; a feed is due again once it was polled longer ago than the caller's
gap (most of an interval), so each feed is polled about once an interval by
whichever worker comes first. A worker that dies keeps its claims until their
lease runs out: then the feeds are due at once and another worker takes them.

The bot (Telegram updates, the digest scheduler, housekeeping) runs in exactly
one worker: the one holding a session advisory lock, on a connection of its own.
When that worker dies its connection closes, the server frees the lock, and the
next worker to try takes it.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from monitor.core.models import Feed
from monitor.core.timeutil import iso
from monitor.storage.postgres.base import BOT_LOCK, PgBase, pg_error, psycopg

_DUE = """active = 1 AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
  AND ((claimed_by IS NULL AND (polled_at IS NULL OR polled_at <= %(gap)s))
       OR (claimed_by IS NOT NULL AND claimed_until <= %(now)s))"""


class PgWorkersMixin(PgBase):
    shared = True  # several workers may run on this database
    worker_id: str | None = None
    _bot_conn: Any = None

    def register_worker(self, worker_id: str, host: str, pid: int, now: datetime) -> None:
        self.worker_id = worker_id
        with self.transaction(exclusive=False):
            self.sql(
                """INSERT INTO workers (id, host, pid, started_at, heartbeat_at)
                   VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE
                   SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL""",
                (worker_id, host, pid, iso(now), iso(now)),
            )

    def heartbeat(self, worker_id: str, now: datetime, holds_bot: bool) -> None:
        self.sql(
            "UPDATE workers SET heartbeat_at = %s, holds_bot = %s WHERE id = %s",
            (iso(now), int(holds_bot), worker_id),
        )

    def stop_worker(self, worker_id: str, now: datetime) -> None:
        """A clean stop: its claims end now (the others need not wait for the lease)."""
        with self.transaction(exclusive=False):
            self.sql(
                "UPDATE workers SET stopped_at = %s, holds_bot = 0 WHERE id = %s",
                (iso(now), worker_id),
            )
            self.sql(
                "UPDATE feeds SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = %s",
                (worker_id,),
            )
        self.release_bot()

    def live_workers(self, now: datetime, since: datetime) -> list[dict]:
        """Workers with a heartbeat since `since` that did not stop, with their live claims."""
        return self.pg_rows(
            """SELECT w.id, w.host, w.pid, w.started_at, w.heartbeat_at, w.holds_bot,
                 w.feeds_polled, (SELECT count(*) FROM feeds f WHERE f.claimed_by = w.id
                                  AND f.claimed_until > %s) AS feeds_claimed
               FROM workers w WHERE w.heartbeat_at >= %s AND w.stopped_at IS NULL
               ORDER BY w.started_at, w.id""",
            (iso(now), iso(since)),
        )

    def claim_feeds(
        self, worker_id: str, now: datetime, until: datetime, gap: datetime, limit: int
    ) -> list[Feed]:
        """Lease up to `limit` due feeds to `worker_id` until `until`, slowest first, as
        `feeds_due` orders them. Feeds another worker is claiming are skipped, not waited for."""
        self.worker_id = worker_id
        params = {"now": iso(now), "gap": iso(gap), "me": worker_id, "until": iso(until)}
        with self.transaction(exclusive=False):
            rows = self.pg_rows(
                f"""UPDATE feeds SET claimed_by = %(me)s, claimed_until = %(until)s
                    WHERE url IN (SELECT url FROM feeds WHERE {_DUE}
                                  ORDER BY coalesce(last_duration, 0) DESC, url
                                  LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
                    RETURNING url, name, lang, etag, last_modified, failures, content_hash,
                      last_ok_at IS NOT NULL AS polled, coalesce(last_duration, 0) AS slow""",
                {**params, "limit": limit},
            )
        rows.sort(key=lambda r: (-r.pop("slow"), r["url"]))
        return [Feed(**row) for row in rows]

    def active_feed_count(self) -> int:
        return int(self.pg_value("SELECT count(*) FROM feeds WHERE active = 1"))

    def due_feed_count(self, now: datetime, gap: datetime) -> int:
        return int(
            self.pg_value(
                f"SELECT count(*) FROM feeds WHERE {_DUE}", {"now": iso(now), "gap": iso(gap)}
            )
        )

    def record_fetch(self, feed_url: str, now: datetime, **kwargs: Any) -> None:
        """SQLite's bookkeeping, and the end of this worker's claim on the feed."""
        with self.transaction():
            super().record_fetch(feed_url, now, **kwargs)  # type: ignore[misc]  # FeedsMixin's, next in PgStore's MRO
            if self.worker_id is not None:
                self.sql(
                    """UPDATE feeds SET claimed_by = NULL, claimed_until = NULL, polled_at = %s
                       WHERE url = %s AND claimed_by = %s""",
                    (iso(now), feed_url, self.worker_id),
                )
                self.sql(
                    "UPDATE workers SET feeds_polled = feeds_polled + 1 WHERE id = %s",
                    (self.worker_id,),
                )

    # -- the bot -------------------------------------------------------------------------
    def try_hold_bot(self) -> bool:
        """True while this process holds the bot lock: taken now if it is free. A lost
        connection loses the lock (the server frees it), and this says so."""
        try:
            if self._bot_conn is not None:
                self._bot_conn.execute("SELECT 1")
                return True
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            held = conn.execute("SELECT pg_try_advisory_lock(%s)", (BOT_LOCK,)).fetchone()
            if held and held[0]:
                self._bot_conn = conn
                return True
            conn.close()
            return False
        except psycopg.Error as exc:
            self.release_bot()
            raise pg_error(self.url, exc) from exc

    def release_bot(self) -> None:
        conn, self._bot_conn = self._bot_conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()  # the session ends: the server frees its advisory lock

    def close(self) -> None:
        self.release_bot()
        super().close()
