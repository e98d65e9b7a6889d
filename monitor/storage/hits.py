"""Hits, read back joined with their article for digests, /recent and surges."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from monitor.core.models import Hit
from monitor.core.timeutil import iso
from monitor.storage.base import StorageBase
from monitor.storage.records import HitRow, RecentHitRow


class HitsMixin(StorageBase):
    def add_hits(self, hits: Sequence[Hit], now: datetime) -> list[Hit]:
        """Insert hits, ignoring ones already stored; return the newly stored."""
        stored = []
        with self.transaction():  # nested in the caller's when there is one
            for hit in hits:
                if self._insert_hit(hit, now):
                    stored.append(hit)
        return stored

    def _insert_hit(self, hit: Hit, now: datetime) -> bool:
        cursor = self.db.execute(
            """INSERT OR IGNORE INTO hits (article_id, watchlist, topic, term, score, snippet,
                 field, priority, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                hit.article_id,
                hit.watchlist,
                hit.topic,
                hit.term,
                hit.score,
                hit.snippet,
                hit.field,
                hit.priority,
                iso(now),
            ),
        )
        return cursor.rowcount > 0

    _HIT_ROWS = """SELECT h.id AS hit_id, h.article_id, h.watchlist, h.topic, h.term, h.score,
                 h.snippet, h.field, h.priority, h.created_at,
                 a.url, a.title, a.summary, a.published_at, a.source, a.feed_url, a.title_key,
                 (SELECT json_group_array(coalesce(f.name, f.title, af.feed_url))
                    FROM article_feeds af LEFT JOIN feeds f ON f.url = af.feed_url
                    WHERE af.article_id = a.id) AS sources,
                 (SELECT json_group_object(v.chat_id, v.vote) FROM votes v
                    WHERE v.hit_id = h.id) AS votes
               FROM hits h JOIN articles a ON a.id = h.article_id"""

    def _hit_rows(self, where: str, params: Sequence[Any]) -> list[HitRow]:
        rows = self._rows(self._HIT_ROWS + " " + where, params)
        for row in rows:  # the JSON aggregates as Python values: callers never parse SQL text
            row["sources"] = json.loads(row["sources"])
            row["votes"] = json.loads(row["votes"])
        return cast(list[HitRow], rows)  # the keys are HitRow's: the SELECT above

    def hits_between(self, since: datetime, until: datetime) -> list[HitRow]:
        """Hits created in [since, until), joined with their article and its sources."""
        return self._hit_rows(
            "WHERE h.created_at >= ? AND h.created_at < ? ORDER BY h.id", (iso(since), iso(until))
        )

    def hits_after(self, last_hit_id: int) -> list[HitRow]:
        """Hits stored after `last_hit_id`: a digest window with no gap and no overlap,
        whatever the clocks and time zones did in between."""
        return self._hit_rows("WHERE h.id > ? ORDER BY h.id", (last_hit_id,))

    def article_hits(self, article_id: str, priority: str | None = None) -> list[HitRow]:
        """An article's hits joined with the article, like the digest's rows."""
        where = "WHERE h.article_id = ?"
        params: list[Any] = [article_id]
        if priority is not None:
            where += " AND h.priority = ?"
            params.append(priority)
        return self._hit_rows(where + " ORDER BY h.id", params)

    def last_hit_id(self, before: datetime | None = None) -> int:
        if before is None:
            return int(self._value("SELECT max(id) FROM hits") or 0)
        return int(
            self._value("SELECT max(id) FROM hits WHERE created_at < ?", (iso(before),)) or 0
        )

    def recent_hits(self, chat_id: str, n: int = 5) -> list[RecentHitRow]:
        """Hits for the chat's subscriptions on its `n` most recent articles, newest first;
        an article with several hits comes as several rows, one after the other."""
        return self._records(
            RecentHitRow,
            """WITH mine AS (
                 SELECT h.* FROM hits h JOIN subscriptions s
                   ON s.chat_id = ? AND s.watchlist = h.watchlist
                  AND (s.topics = '[]' OR h.topic IN (SELECT value FROM json_each(s.topics)))
               ), latest AS (
                 SELECT article_id, max(id) AS last_id FROM mine
                 GROUP BY article_id ORDER BY last_id DESC LIMIT ?
               )
               SELECT mine.id AS hit_id, mine.article_id, mine.watchlist, mine.topic,
                 mine.term, mine.snippet, mine.created_at, a.url, a.title, a.source,
                 a.published_at
               FROM mine JOIN latest ON latest.article_id = mine.article_id
                 JOIN articles a ON a.id = mine.article_id
               ORDER BY latest.last_id DESC, mine.id""",
            (chat_id, n),
        )

    def hit_ids(self, article_id: str, topics: Iterable[tuple[str, str]]) -> list[int]:
        """The ids of an article's hits on these (watchlist, topic) pairs."""
        ids = []
        for watchlist, topic in topics:
            found = self._value(
                "SELECT id FROM hits WHERE article_id = ? AND watchlist = ? AND topic = ?",
                (article_id, watchlist, topic),
            )
            if found is not None:
                ids.append(int(found))
        return ids

    def surge_candidates(self, feed_url: str, now: datetime) -> list[str]:
        """Articles this feed carried for the first time at `now` that have a normal-priority
        hit: stories another outlet may just have made a surge of."""
        rows = self._rows(
            """SELECT af.article_id FROM article_feeds af
               WHERE af.feed_url = ? AND af.seen_at >= ? AND EXISTS (
                 SELECT 1 FROM hits h WHERE h.article_id = af.article_id
                   AND h.priority = 'normal')
               ORDER BY af.article_id""",
            (feed_url, iso(now)),
        )
        return [r["article_id"] for r in rows]

    def story_outlets(self, article_id: str, since: datetime) -> list[str]:
        """Distinct outlets (feed names) that carried the article since `since`, first first."""
        rows = self._rows(
            """SELECT coalesce(f.name, f.title, af.feed_url) AS outlet
               FROM article_feeds af LEFT JOIN feeds f ON f.url = af.feed_url
               WHERE af.article_id = ? AND af.seen_at >= ?
               GROUP BY outlet ORDER BY min(af.seen_at), outlet""",
            (article_id, iso(since)),
        )
        return [r["outlet"] for r in rows]
