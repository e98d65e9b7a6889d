"""Articles and the feeds that carried them; duplicate detection by id, URL and title."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.core.models import Article
from monitor.core.timeutil import iso, parse_iso
from monitor.storage.base import StorageBase, chunks
from monitor.storage.records import ArticleRow
from monitor.text.recenttitles import RecentTitles
from monitor.text.titles import SeenArticles, is_near_duplicate, title_key

TITLE_DEDUPE_HOURS = 48


_ARTICLE_COLUMNS = [
    "id",
    "feed_url",
    "url",
    "title",
    "summary",
    "content",
    "published_at",
    "seen_at",
    "title_key",
    "source",
    "lang",
]


_INSERT_ARTICLE = (
    f"INSERT INTO articles ({', '.join(_ARTICLE_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _ARTICLE_COLUMNS)})"
)


def _article_row(article: Article, key: str | None, now: datetime) -> dict:
    return {
        "id": article.id,
        "feed_url": article.feed_url,
        "url": article.url,
        "title": article.title,
        "summary": article.summary,
        "content": article.content,
        "published_at": iso(article.published_at or now),
        "seen_at": iso(now),
        "title_key": key,
        "source": article.source,
        "lang": article.lang,
    }


def _article_from_row(row: dict) -> Article:
    return Article(
        id=row["id"],
        feed_url=row["feed_url"],
        url=row["url"],
        title=row["title"],
        summary=row["summary"] or "",
        content=row["content"] or "",
        published_at=parse_iso(row["published_at"]),
        source=row["source"] or "",
        lang=row["lang"],
    )


class ArticlesMixin(StorageBase):
    def add_new_articles(
        self,
        feed_url: str,
        articles: Sequence[Article],
        now: datetime,
        title_keys: Sequence[str | None] = (),
    ) -> list[Article]:
        """Store the articles never seen before and return them; note every feed that carried one.

        Seen before means the same id, the same canonical URL, or the same or
        nearly the same title (titles.py) first seen in the last 48 hours: wire
        stories syndicated under different URLs and slightly different titles.
        Ids and URLs are looked up in two queries per batch; titles in memory, by
        neighbourhood hash, and the few rows filed under a new title's are read back.
        `title_keys` are the folded titles when a parse worker made them already.
        """
        seen_at = iso(now)
        keys = list(title_keys) if title_keys else [title_key(a.title) for a in articles]
        seen = self._seen_articles(articles, now)
        new: list[Article] = []
        rows: list[dict] = []
        links: list[tuple[str, str, str]] = []
        for article, key in zip(articles, keys, strict=True):
            existing = seen.find(article.id, article.url, key)
            if existing is None:
                rows.append(_article_row(article, key, now))
                new.append(article)
                seen.add(article.id, article.url, key)
                existing = article.id
            links.append((existing, feed_url, seen_at))
        # its own (nested) transaction: committed here when the caller has none open
        with self.transaction():
            if rows:
                self.db.conn.executemany(_INSERT_ARTICLE, rows)
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO article_feeds (article_id, feed_url, seen_at)"
                " VALUES (?, ?, ?)",
                links,
            )
        return new

    def _seen_articles(self, articles: Sequence[Article], now: datetime) -> SeenArticles:
        """Stored articles sharing an id or a URL with this batch, and the recent titles."""
        since = iso(now - timedelta(hours=TITLE_DEDUPE_HOURS))
        recent = self._recent_titles(now)
        seen = SeenArticles(lambda key: self._stored_title(recent, key, since))
        for chunk in chunks([a.id for a in articles]):
            marks = ",".join("?" * len(chunk))
            for (article_id,) in self.db.execute(
                f"SELECT id FROM articles WHERE id IN ({marks})", chunk
            ):
                seen.ids.add(article_id)
        for chunk in chunks([a.url for a in articles]):
            marks = ",".join("?" * len(chunk))
            for article_id, url in self.db.execute(
                f"SELECT id, url FROM articles WHERE url IN ({marks})", chunk
            ):
                seen.urls[url] = article_id
        return seen

    def _stored_title(self, recent: RecentTitles, key: str, since: str) -> str | None:
        """The stored article of the last 48 hours whose title is the same as or nearly
        the same as `key`, or None: the few rows the index files under its hashes, read."""
        rowids = recent.candidates(key)
        if not rowids:
            return None
        words = frozenset(key.split())
        marks = ",".join("?" * len(rowids))
        for article_id, other in self.db.execute(
            f"""SELECT id, title_key FROM articles
                WHERE rowid IN ({marks}) AND seen_at >= ? ORDER BY rowid""",
            [*rowids, since],
        ):
            if other and is_near_duplicate(words, frozenset(other.split())):
                return str(article_id)
        return None

    def _recent_titles(self, now: datetime) -> RecentTitles:
        """The titles of the last 48 hours, topped up with rows stored since the last call
        (by this process or another one) and with the old ones dropped."""
        since = iso(now - timedelta(hours=TITLE_DEDUPE_HOURS))
        if self._titles is None:
            self._titles = RecentTitles()
        for rowid, key, seen_at in self.db.execute(
            """SELECT rowid, title_key, seen_at FROM articles
               WHERE rowid > ? AND seen_at >= ? AND title_key IS NOT NULL ORDER BY rowid""",
            (self._titles.last, since),
        ):
            self._titles.add(rowid, key, seen_at)
        self._titles.prune(since)
        return self._titles

    def prune_title_index(self, now: datetime) -> None:
        """Titles older than the 48-hour window are never compared again."""
        if self._titles is not None:
            self._titles.prune(iso(now - timedelta(hours=TITLE_DEDUPE_HOURS)))

    def article(self, article_id: str) -> ArticleRow | None:
        return self._record(ArticleRow, "SELECT * FROM articles WHERE id = ?", (article_id,))

    def articles_since(self, since: datetime) -> list[Article]:
        rows = self._rows(
            "SELECT * FROM articles WHERE seen_at >= ? ORDER BY seen_at, id", (iso(since),)
        )
        return [_article_from_row(r) for r in rows]
