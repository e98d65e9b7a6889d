"""Plain records passed between the pipeline stages.

No feedparser, httpx, sqlite or telegram object crosses a module boundary:
each stage takes and returns these frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed to poll, with what the last successful poll left behind."""

    url: str
    name: str | None = None
    lang: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    content_hash: str | None = None  # of the last body stored: an identical 200 is skipped
    polled: bool = False  # fetched successfully before: its first fetch is a backlog


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one HTTP (or file://) request produced; `error` set when it failed."""

    feed: Feed
    status: int | None = None
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None
    error: str | None = None
    truncated: bool = False
    elapsed: float = 0.0
    retry_after: float | None = None  # seconds, from a Retry-After header on 429/503

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class FieldLimits:
    """How much of an entry's text is kept (characters, after markup is removed).

    A real headline is under 300 characters and a summary a paragraph; a feed that
    sends a megabyte in one title is broken or hostile, and every later stage
    (matching, dedupe, rendering) would pay for it, so the text is cut at parse.
    """

    title: int = 1_000
    summary: int = 2_000
    content: int = 20_000


@dataclass(frozen=True, slots=True)
class Article:
    """One feed entry, cleaned: plain text, canonical URL, UTC times."""

    id: str
    feed_url: str
    url: str
    title: str
    summary: str = ""
    content: str = ""
    published_at: datetime | None = None
    source: str = ""
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """The result of parsing one response: the articles plus what went wrong."""

    feed_url: str
    title: str | None
    articles: tuple[Article, ...]
    warning: str | None = None
    error: str | None = None
    skipped: int = 0
    title_keys: tuple[str | None, ...] = ()  # folded titles (titles.py), by a parse worker


@dataclass(frozen=True, slots=True)
class Hit:
    """One topic matched by one article, and why."""

    article_id: str
    watchlist: str
    topic: str
    term: str
    score: float
    snippet: str
    field: str = "title"
    priority: str = "normal"


@dataclass(frozen=True, slots=True)
class Subscription:
    chat_id: str
    watchlist: str
    topics: tuple[str, ...] = ()
    paused: bool = False
    timezone: str | None = None
    digest_time: str | None = None

    def wants(self, watchlist: str, topic: str) -> bool:
        return watchlist == self.watchlist and (not self.topics or topic in self.topics)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A row of the outbox: one message to one chat, sent at least once, at most once."""

    id: int
    chat_id: str
    kind: str
    dedupe_key: str
    payload: dict = field(default_factory=dict)
    attempts: int = 0
