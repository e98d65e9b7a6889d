"""Articles and the feeds that carried them; duplicate detection by id, URL and title."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.core.models import Article
from monitor.core.timeutil import iso, parse_iso
from monitor.storage.base import StorageBase, chunks
from monitor.storage.records import ArticleRow
from monitor.text.titles import SeenArticles, TitleIndex, title_key

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
        Ids and URLs are looked up in two queries per batch, titles in memory.
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
                seen.add(article.id, article.url, key, seen_at)
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
        seen = SeenArticles(self._recent_titles(now))
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

    def _recent_titles(self, now: datetime) -> TitleIndex:
        """The titles of the last 48 hours, topped up with rows stored since the last call
        (by this process or another one) and with the old ones dropped."""
        since = iso(now - timedelta(hours=TITLE_DEDUPE_HOURS))
        if self._titles is None:
            self._titles, self._titles_rowid = TitleIndex(), 0
        for rowid, article_id, key, seen_at in self.db.execute(
            """SELECT rowid, id, title_key, seen_at FROM articles
               WHERE rowid > ? AND seen_at >= ? AND title_key IS NOT NULL ORDER BY rowid""",
            (self._titles_rowid, since),
        ):
            self._titles.add(article_id, key, seen_at)
            self._titles_rowid = rowid
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
