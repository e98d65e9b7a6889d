"""Storing one polled feed: its new articles, their hits, alerts and surges, or its failure.

`store_feed` is synchronous on purpose: a stop request cancels the cycle at an
`await`, never in here, so a feed is stored completely or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from monitor.core.errors import MatchError
from monitor.core.models import Article, Feed, Hit
from monitor.feeds.parsepool import ReadFeed
from monitor.pipeline.alerts import alert_recipients, queue_alerts
from monitor.pipeline.runtime import CycleReport, Runtime
from monitor.pipeline.surge import queue_surges

log = logging.getLogger(__name__)


def store_feeds(rt: Runtime, items: Sequence[ReadFeed], report: CycleReport) -> None:
    """store_feed for each item, all in one transaction (each feed in its own savepoint).

    A feed's articles, hits, alerts and new ETag still commit together, or not at
    all; committing a few feeds at once writes each index page they share once.
    """
    with rt.store.transaction():
        for item in items:
            store_feed(rt, item, report)


def store_feed(rt: Runtime, item: ReadFeed, report: CycleReport) -> None:
    """add_new_articles | match | add_hits + enqueue, together (a savepoint, when
    store_feeds has a transaction open).

    Synchronous on purpose: a stop request cancels the cycle at an `await`,
    never in here, so a feed is stored completely or not at all.
    """
    result, parsed = item.result, item.parsed
    feed, now = result.feed, rt.clock()
    if result.error:
        record_failure(
            rt,
            feed,
            result.error,
            report,
            status=result.status,
            retry_after=result.retry_after,
            duration=result.elapsed,
        )
        return
    if result.not_modified or item.unchanged:
        rt.store.record_fetch(
            feed.url,
            now,
            ok=True,
            status=result.status,
            etag=result.etag,
            last_modified=result.last_modified,
            duration=result.elapsed,
        )
        report.feeds_ok += 1
        report.feeds_not_modified += 1
        return
    if parsed is None or parsed.error:
        error = (parsed.error if parsed else None) or "nothing to read"
        record_failure(rt, feed, error, report, status=result.status, duration=result.elapsed)
        return
    if parsed.warning:
        log.warning("feed=%s %s", feed.url, parsed.warning)
    try:
        _store_new_articles(rt, item, report, now)
    except MatchError as exc:  # the feed's savepoint rolled back; the batch goes on
        record_failure(rt, feed, exc.message, report, status=result.status, duration=result.elapsed)


def _store_new_articles(rt: Runtime, item: ReadFeed, report: CycleReport, now: datetime) -> None:
    """The new articles of a parsed feed, their hits and alerts, and its new validators."""
    result, parsed, feed = item.result, item.parsed, item.result.feed
    assert parsed is not None
    with rt.store.transaction():
        new_articles = rt.store.add_new_articles(feed.url, parsed.articles, now, parsed.title_keys)
        stored = rt.store.add_hits(_hits_of(rt, new_articles, item.hits), now)
        fresh = alertable(feed, new_articles, now, rt.config.poll.alert_max_age_hours)
        queued = queue_alerts(
            rt, fresh, [h for h in stored if h.article_id in fresh_ids(fresh)], now
        )
        if feed.polled:  # a first fetch is a backlog: its stories surge nobody's phone
            recipients = partial(alert_recipients, rt, now)  # looked up only when one surges
            titles = rt.library.topic_titles()
            queued += queue_surges(rt.store, feed.url, recipients, titles, rt.config.digest, now)
        rt.store.record_fetch(
            feed.url,
            now,
            ok=True,
            status=result.status,
            etag=result.etag,
            last_modified=result.last_modified,
            title=parsed.title,
            warning=parsed.warning,
            content_hash=item.content_hash,
            duration=result.elapsed,
        )
    report.feeds_ok += 1
    report.articles_new += len(new_articles)
    report.hits_new += len(stored)
    report.alerts_queued += queued
    if stored:
        log.info("feed=%s new_articles=%d hits=%d", feed.url, len(new_articles), len(stored))


def alertable(
    feed: Feed, articles: Sequence[Article], now: datetime, max_age_hours: float
) -> list[Article]:
    """The new articles that may alert at once; the rest wait for the digest.

    None of a feed's first fetch (adding a feed of twelve weeks-old items sent twelve
    instant alerts; a 300-feed farm's first poll, 138), and none published more than
    `max_age_hours` ago. An article without a date counts as published when first seen.
    """
    if not feed.polled:
        if articles:
            log.info("feed=%s first fetch: %d articles to the digest only", feed.url, len(articles))
        return []
    if not max_age_hours:
        return list(articles)
    oldest = now - timedelta(hours=max_age_hours)
    return [a for a in articles if a.published_at is None or a.published_at >= oldest]


def fresh_ids(articles: Sequence[Article]) -> set[str]:
    return {article.id for article in articles}


def _hits_of(rt: Runtime, articles: Sequence[Article], matched: Sequence[Hit] | None) -> list[Hit]:
    """The new articles' hits: matched here, or picked from what a parse worker matched."""
    if matched is None:
        return [hit for article in articles for hit in _match(rt, article)]
    new_ids = {article.id for article in articles}
    return [hit for hit in matched if hit.article_id in new_ids]


def _match(rt: Runtime, article: Article) -> list[Hit]:
    try:
        return rt.library.matcher.match(article)
    except Exception as exc:  # MemoryError included: one article must not end the cycle
        log.exception("matching failed feed=%s article=%s", article.feed_url, article.id)
        raise MatchError(
            f"matching failed on article {article.id}: {exc.__class__.__name__}"
        ) from exc


def record_failure(
    rt: Runtime,
    feed: Feed,
    error: str,
    report: CycleReport,
    status: int | None = None,
    retry_after: float | None = None,
    duration: float | None = None,
) -> None:
    """Record a failed poll; the feed's next attempt backs off, or waits for Retry-After."""
    failures = feed.failures + 1
    poll = rt.config.poll
    delay = backoff_delay(failures, poll.interval_seconds, poll.max_backoff_seconds)
    if retry_after:  # the server's wish (429/503), within the same cap as our own backoff
        wish = timedelta(seconds=min(retry_after, poll.max_backoff_seconds))
        delay = max(delay or wish, wish)
    rt.store.record_fetch(
        feed.url,
        rt.clock(),
        ok=False,
        status=status,
        error=error,
        retry_after=delay,
        duration=duration,
    )
    report.feeds_failed += 1
    report.errors.append(f"{feed.url}: {error}")
    log.warning("feed failed feed=%s failures=%d error=%s", feed.url, failures, error)


def backoff_delay(failures: int, interval: int, cap: int) -> timedelta | None:
    """None after one failure (try again next cycle), then 2, 4, 8 ... intervals up to `cap`.

    With the defaults (600 s, 6 h): 20 min, 40 min, 80 min, 160 min, 320 min, then every 6 h.
    The first success resets `failures`, and the feed is polled every cycle again.
    """
    if failures <= 1:
        return None
    return timedelta(seconds=min(interval * 2 ** min(failures - 1, 32), cap))
