"""The feeds table: what is polled, and how each poll went."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.core.models import Feed
from monitor.core.timeutil import iso
from monitor.storage.base import StorageBase
from monitor.storage.records import FailingFeedRow, FeedRow


class FeedsMixin(StorageBase):
    def sync_feeds(
        self, feeds: Iterable[tuple[str, str | None, str | None]], now: datetime
    ) -> None:
        """Make the config's feeds (url, name, lang) active; config feeds no longer listed go idle.

        Nothing is written when the table already says so: `monitor feeds list` and the
        other commands that sync first then only read, and never wait for a worker that
        holds the write lock."""
        wanted = {url: (name, lang) for url, name, lang in feeds}
        stored = {
            r["url"]: r
            for r in self._rows("SELECT url, name, lang, active FROM feeds WHERE source = 'config'")
        }
        in_sync = all(
            (row := stored.get(url)) is not None
            and row["active"]
            and (row["name"], row["lang"]) == v
            for url, v in wanted.items()
        ) and not any(r["active"] and url not in wanted for url, r in stored.items())
        if in_sync:
            return
        urls = []
        with self.transaction():
            for url, (name, lang) in wanted.items():
                urls.append(url)
                self.db.execute(
                    """INSERT INTO feeds (url, name, lang, source, active, added_at)
                       VALUES (?, ?, ?, 'config', 1, ?)
                       ON CONFLICT (url) DO UPDATE SET name = excluded.name,
                         lang = excluded.lang, active = 1""",
                    (url, name, lang, iso(now)),
                )
            marks = ",".join("?" * len(urls))
            self.db.execute(
                f"UPDATE feeds SET active = 0 WHERE source = 'config' AND url NOT IN ({marks})",
                urls,
            )

    def add_feed(
        self, url: str, name: str | None, lang: str | None, now: datetime, title: str | None = None
    ) -> bool:
        """Add a feed at run time; False when it was already there."""
        with self.transaction():
            existed = self._value("SELECT active FROM feeds WHERE url = ?", (url,))
            self.db.execute(
                """INSERT INTO feeds (url, name, lang, source, active, added_at, title)
                   VALUES (?, ?, ?, 'added', 1, ?, ?)
                   ON CONFLICT (url) DO UPDATE SET active = 1,
                     source = CASE WHEN active = 0 THEN 'added' ELSE source END,
                     -- a feed being polled keeps its name: an import does not rename it
                     name = CASE WHEN active = 0 THEN coalesce(excluded.name, name) ELSE name END,
                     lang = CASE WHEN active = 0 THEN coalesce(excluded.lang, lang) ELSE lang END,
                     title = coalesce(excluded.title, title)""",
                (url, name, lang, iso(now), title),
            )
        return not existed

    def remove_feed(self, url: str) -> bool:
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE feeds SET active = 0 WHERE url = ? AND active = 1", (url,)
            )
        return cursor.rowcount > 0

    def add_feeds(
        self, feeds: Iterable[tuple[str, str | None, str | None]], now: datetime
    ) -> list[str]:
        """Add many feeds (an OPML import) in one transaction; returns the URLs that were new."""
        added = []
        with self.transaction():
            for url, name, lang in feeds:
                if self.add_feed(url, name, lang, now):
                    added.append(url)
        return added

    def feeds_due(self, now: datetime) -> list[Feed]:
        """Active feeds whose next attempt has come, the slowest last time first: a server
        that takes its time (or its timeout) overlaps the rest of the cycle, not its end."""
        rows = self._rows(
            """SELECT url, name, lang, etag, last_modified, failures, content_hash,
                 last_ok_at IS NOT NULL AS polled FROM feeds
               WHERE active = 1 AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
               ORDER BY coalesce(last_duration, 0) DESC, url""",
            (iso(now),),
        )
        return [Feed(**{**row, "polled": bool(row["polled"])}) for row in rows]

    def feed_rows(self, include_inactive: bool = False) -> list[FeedRow]:
        """Every feed with its status and article count, for `monitor feeds`."""
        where = "" if include_inactive else "WHERE f.active = 1"
        return self._records(
            FeedRow,
            f"""SELECT f.*, coalesce(n.articles, 0) AS articles FROM feeds f
                LEFT JOIN (SELECT feed_url, count(*) AS articles FROM article_feeds
                           GROUP BY feed_url) n ON n.feed_url = f.url
                {where} ORDER BY f.url""",
        )

    def feed_row(self, url: str) -> FeedRow | None:
        """One feed, active or not, with its article count; None when unknown."""
        return self._record(
            FeedRow,
            """SELECT f.*, (SELECT count(*) FROM article_feeds af WHERE af.feed_url = f.url)
                 AS articles FROM feeds f WHERE f.url = ?""",
            (url,),
        )

    def record_fetch(
        self,
        feed_url: str,
        now: datetime,
        *,
        ok: bool,
        status: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
        title: str | None = None,
        retry_after: timedelta | None = None,
        warning: str | None = None,
        content_hash: str | None = None,
        duration: float | None = None,
    ) -> None:
        """Record one poll. On success the validators advance; on failure the feed backs off.

        A success clears the error and sets `last_warning` (a feed cut off at
        max_bytes, malformed but readable, ...) to this poll's warning or NULL.
        """
        if ok:
            self.db.execute(
                """UPDATE feeds SET last_ok_at = ?, last_status = ?, failures = 0,
                     last_error = NULL, next_attempt_at = NULL, last_warning = ?,
                     etag = CASE WHEN ? THEN ? ELSE etag END,
                     last_modified = CASE WHEN ? THEN ? ELSE last_modified END,
                     title = coalesce(?, title), content_hash = coalesce(?, content_hash),
                     last_duration = coalesce(?, last_duration)
                   WHERE url = ?""",
                (
                    iso(now),
                    status,
                    warning,
                    status != 304,
                    etag,
                    status != 304,
                    last_modified,
                    title,
                    content_hash,
                    duration,
                    feed_url,
                ),
            )
        else:
            next_at = iso(now + retry_after) if retry_after else None
            self.db.execute(
                """UPDATE feeds SET last_error = ?, last_error_at = ?, last_status = ?,
                     failures = failures + 1, next_attempt_at = ?,
                     last_duration = coalesce(?, last_duration) WHERE url = ?""",
                (error, iso(now), status, next_at, duration, feed_url),
            )
        if not self.db.conn.in_transaction:
            self.db.conn.commit()

    def failing_feeds(self) -> list[FailingFeedRow]:
        return self._records(
            FailingFeedRow,
            """SELECT url, last_error, failures, last_ok_at, next_attempt_at FROM feeds
               WHERE active = 1 AND failures > 0 ORDER BY failures DESC, url""",
        )
