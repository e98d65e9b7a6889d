"""The rows storage hands out: typed records, one per shape, with the column names of
DESIGN.md. They are dictionaries at run time (what the bot, the CLI and Datasette-style
tools read alike), and mypy checks every key a caller reads."""

from __future__ import annotations

from typing import TypedDict


class FeedRow(TypedDict):
    """A row of `feeds`, and how many articles the feed carried (`monitor feeds`)."""

    url: str
    title: str | None
    name: str | None
    lang: str | None
    source: str  # "config" or "added"
    active: int
    etag: str | None
    last_modified: str | None
    last_ok_at: str | None
    last_error: str | None
    last_error_at: str | None
    last_status: int | None
    failures: int
    next_attempt_at: str | None
    added_at: str | None
    last_warning: str | None
    content_hash: str | None
    last_duration: float | None
    articles: int


class FailingFeedRow(TypedDict):
    url: str
    last_error: str | None
    failures: int
    last_ok_at: str | None
    next_attempt_at: str | None


class ArticleRow(TypedDict):
    id: str
    feed_url: str
    url: str
    title: str
    summary: str
    content: str
    published_at: str | None
    seen_at: str
    title_key: str | None
    source: str | None
    lang: str | None


class ChatRow(TypedDict):
    chat_id: str
    timezone: str | None
    digest_time: str | None
    muted_until: str | None
    last_digest_at: str | None
    last_digest_hit_id: int | None
    created_at: str
    blocked_at: str | None


class CycleRow(TypedDict):
    id: int
    started_at: str
    finished_at: str | None
    duration: float | None
    feeds_ok: int | None
    feeds_failed: int | None
    articles_new: int | None
    hits_new: int | None
    error: str | None


class HitRow(TypedDict):
    """A hit joined with its article: what digests, surges and the archive read."""

    hit_id: int
    article_id: str
    watchlist: str
    topic: str
    term: str
    score: float
    snippet: str
    field: str
    priority: str
    created_at: str
    url: str
    title: str
    summary: str
    published_at: str | None
    source: str | None
    feed_url: str
    title_key: str | None
    sources: list[str]  # every outlet that carried the article, first seen first
    votes: dict[str, str]  # chat id -> "relevant" | "not_relevant"


class RecentHitRow(TypedDict):
    """/recent: a hit on a chat's subscriptions, with its article."""

    hit_id: int
    article_id: str
    watchlist: str
    topic: str
    term: str
    snippet: str
    created_at: str
    url: str
    title: str
    source: str | None
    published_at: str | None


class SearchRow(TypedDict):
    """/search: an article, and its matched words marked in `snippet`."""

    id: str
    url: str
    title: str
    source: str | None
    published_at: str | None
    snippet: str


class VoteRow(TypedDict):
    hit_id: int
    chat_id: str
    vote: str  # "relevant" | "not_relevant"
    voted_at: str


class VoteStatRow(TypedDict):
    """Per watchlist, topic and term: hits, hits voted on, and the votes (`monitor stats`)."""

    watchlist: str
    topic: str
    term: str
    hits: int
    voted: int
    relevant: int
    not_relevant: int


class StatusCounts(TypedDict):
    """What `monitor status` and /status count."""

    feeds_total: int
    feeds_ok: int
    feeds_failing: int
    last_feed_ok_at: str | None
    articles: int
    hits_today: int
    outbox_pending: int
    outbox_held: int
    outbox_failed: int
    outbox_oldest_pending: str | None
    subscribers: int


class MigrationRow(TypedDict):
    """A migration of the backend's schema: its name, and when it was applied (None:
    pending), in the order they apply (`monitor migrate`)."""

    name: str
    applied_at: str | None


class CopyReport(TypedDict):
    """What `monitor migrate --to` copied: rows per table, the next id of every serial
    column, and the articles the search index now holds."""

    tables: dict[str, int]
    next_ids: dict[str, int]  # "hits.id" -> the id the next hit gets
    indexed: int
