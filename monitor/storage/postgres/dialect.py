"""The aggregates' methods whose SQLite SQL PostgreSQL does not read: JSON aggregates,
`json_each`, sums of booleans, `lastrowid`, `UPDATE OR IGNORE`, PRAGMAs. Each returns
what its SQLite twin returns, value for value (the contract tests run both)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime

from monitor.core.timeutil import iso, parse_iso
from monitor.storage.postgres.base import PgBase
from monitor.storage.records import RecentHitRow, StatusCounts, VoteStatRow

# SQLite's json_group_array reads article_feeds by its primary key (article_id, feed_url):
# the sources come in feed URL order there, and so they do here
_HIT_ROWS = """SELECT h.id AS hit_id, h.article_id, h.watchlist, h.topic, h.term, h.score,
             h.snippet, h.field, h.priority, h.created_at,
             a.url, a.title, a.summary, a.published_at, a.source, a.feed_url, a.title_key,
             coalesce((SELECT json_agg(coalesce(f.name, f.title, af.feed_url)
                                ORDER BY af.feed_url)
                FROM article_feeds af LEFT JOIN feeds f ON f.url = af.feed_url
                WHERE af.article_id = a.id), '[]')::text AS sources,
             coalesce((SELECT json_object_agg(v.chat_id, v.vote ORDER BY v.chat_id)
                FROM votes v WHERE v.hit_id = h.id), '{}')::text AS votes
           FROM hits h JOIN articles a ON a.id = h.article_id"""


class PgDialectMixin(PgBase):
    _HIT_ROWS = _HIT_ROWS

    # -- feeds -----------------------------------------------------------------------
    def add_feed(
        self, url: str, name: str | None, lang: str | None, now: datetime, title: str | None = None
    ) -> bool:
        """SQLite's, with the columns of the row in place named (PostgreSQL finds a bare
        `active` ambiguous beside `excluded.active`)."""
        with self.transaction():
            existed = self.pg_value("SELECT active FROM feeds WHERE url = %s", (url,))
            self.sql(
                """INSERT INTO feeds (url, name, lang, source, active, added_at, title)
                   VALUES (%s, %s, %s, 'added', 1, %s, %s)
                   ON CONFLICT (url) DO UPDATE SET active = 1,
                     source = CASE WHEN feeds.active = 0 THEN 'added' ELSE feeds.source END,
                     name = CASE WHEN feeds.active = 0 THEN coalesce(excluded.name, feeds.name)
                                 ELSE feeds.name END,
                     lang = CASE WHEN feeds.active = 0 THEN coalesce(excluded.lang, feeds.lang)
                                 ELSE feeds.lang END,
                     title = coalesce(excluded.title, feeds.title)""",
                (url, name, lang, iso(now), title),
            )
        return not existed

    # -- hits ------------------------------------------------------------------------
    def recent_hits(self, chat_id: str, n: int = 5) -> list[RecentHitRow]:
        return self.pg_records(
            RecentHitRow,
            """WITH mine AS (
                 SELECT h.* FROM hits h JOIN subscriptions s
                   ON s.chat_id = %s AND s.watchlist = h.watchlist
                  AND (s.topics = '[]'
                       OR h.topic IN (SELECT json_array_elements_text(s.topics::json)))
               ), latest AS (
                 SELECT article_id, max(id) AS last_id FROM mine
                 GROUP BY article_id ORDER BY last_id DESC LIMIT %s
               )
               SELECT mine.id AS hit_id, mine.article_id, mine.watchlist, mine.topic,
                 mine.term, mine.snippet, mine.created_at, a.url, a.title, a.source,
                 a.published_at
               FROM mine JOIN latest ON latest.article_id = mine.article_id
                 JOIN articles a ON a.id = mine.article_id
               ORDER BY latest.last_id DESC, mine.id""",
            (chat_id, n),
        )

    # -- chats -----------------------------------------------------------------------
    def migrate_chat(self, old_id: str, new_id: str, now: datetime) -> None:
        with self.transaction():
            self.sql(
                """INSERT INTO chats (chat_id, timezone, digest_time, muted_until,
                     last_digest_at, last_digest_hit_id, created_at)
                   SELECT %s, timezone, digest_time, muted_until, last_digest_at,
                     last_digest_hit_id, %s FROM chats WHERE chat_id = %s
                   ON CONFLICT DO NOTHING""",
                (new_id, iso(now), old_id),
            )
            # UPDATE OR IGNORE: a subscription the new id already has stays as it is
            self.sql(
                """UPDATE subscriptions s SET chat_id = %s WHERE s.chat_id = %s
                   AND NOT EXISTS (SELECT 1 FROM subscriptions t
                                   WHERE t.chat_id = %s AND t.watchlist = s.watchlist)""",
                (new_id, old_id, new_id),
            )
            self.sql("DELETE FROM subscriptions WHERE chat_id = %s", (old_id,))
            self.sql(
                """UPDATE outbox SET chat_id = %s WHERE chat_id = %s
                   AND status IN ('pending', 'held')""",
                (new_id, old_id),
            )
            self.sql("UPDATE vote_targets SET chat_id = %s WHERE chat_id = %s", (new_id, old_id))

    # -- votes -----------------------------------------------------------------------
    def add_vote_target(self, hit_ids: Sequence[int], chat_id: str, now: datetime) -> str:
        secret = secrets.token_urlsafe(8)
        row_id = self.pg_value(
            """INSERT INTO vote_targets (hit_ids, created_at, chat_id, secret)
               VALUES (%s, %s, %s, %s) RETURNING id""",
            (json.dumps(list(hit_ids)), iso(now), chat_id, secret),
        )
        return f"{row_id}-{secret}"

    def record_vote(self, token: str, chat_id: str, vote: str, now: datetime) -> int:
        row_id, _, secret = token.partition("-")
        if not row_id.isdigit() or not secret or int(row_id) >= 2**63:
            return 0
        rows = self.pg_rows(
            "SELECT hit_ids, chat_id, secret FROM vote_targets WHERE id = %s", (int(row_id),)
        )
        if not rows or rows[0]["chat_id"] != chat_id or rows[0]["secret"] is None:
            return 0
        if not secrets.compare_digest(rows[0]["secret"], secret):
            return 0
        with self.transaction():
            result = self.sql(
                """INSERT INTO votes (hit_id, chat_id, vote, voted_at)
                   SELECT h.id, %s, %s, %s FROM hits h
                   WHERE h.id IN (SELECT value::bigint FROM json_array_elements_text(%s::json))
                   ON CONFLICT (hit_id, chat_id)
                   DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at""",
                (chat_id, vote, iso(now), rows[0]["hit_ids"]),
            )
        return int(result.rowcount)

    def vote_stats(self, since: datetime) -> list[VoteStatRow]:
        return self.pg_records(
            VoteStatRow,
            """SELECT h.watchlist, h.topic, h.term, count(DISTINCT h.id) AS hits,
                 count(DISTINCT v.hit_id) AS voted,
                 count(*) FILTER (WHERE v.vote = 'relevant') AS relevant,
                 count(*) FILTER (WHERE v.vote = 'not_relevant') AS not_relevant
               FROM hits h LEFT JOIN votes v ON v.hit_id = h.id
               WHERE h.created_at >= %s
               GROUP BY h.watchlist, h.topic, h.term""",
            (iso(since),),
        )

    def last_change_at(self) -> datetime | None:
        return parse_iso(
            self.pg_value(
                """SELECT greatest(coalesce((SELECT max(created_at) FROM hits), ''),
                     coalesce((SELECT max(voted_at) FROM votes), ''))"""
            )
            or None
        )

    # -- operations ------------------------------------------------------------------
    def start_cycle(self, now: datetime) -> int:
        with self.transaction(exclusive=False):
            return int(
                self.pg_value(
                    "INSERT INTO cycles (started_at) VALUES (%s) RETURNING id", (iso(now),)
                )
            )

    def status_counts(self, hits_since: datetime) -> StatusCounts:
        feeds = self.pg_rows(
            """SELECT count(*) AS total, count(*) FILTER (WHERE failures = 0) AS ok,
                 count(*) FILTER (WHERE failures > 0) AS failing,
                 max(last_ok_at) AS last_ok_at FROM feeds WHERE active = 1"""
        )[0]
        one = self.pg_value
        return {
            "feeds_total": feeds["total"] or 0,
            "feeds_ok": feeds["ok"] or 0,
            "feeds_failing": feeds["failing"] or 0,
            "last_feed_ok_at": feeds["last_ok_at"],
            "articles": one("SELECT count(*) FROM articles"),
            "hits_today": one(
                "SELECT count(*) FROM hits WHERE created_at >= %s", (iso(hits_since),)
            ),
            "outbox_pending": one(
                "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
            ),
            "outbox_held": one("SELECT count(*) FROM outbox WHERE status = 'held'"),
            "outbox_failed": one("SELECT count(*) FROM outbox WHERE status = 'failed'"),
            "outbox_oldest_pending": one(
                "SELECT min(created_at) FROM outbox WHERE status IN ('pending', 'sending')"
            ),
            "subscribers": one(
                "SELECT count(DISTINCT chat_id) FROM subscriptions WHERE paused = 0"
            ),
        }

    def optimize(self) -> None:
        """The planner's statistics; autovacuum does the rest."""
        self.sql("ANALYZE")
