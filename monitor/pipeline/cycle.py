"""One poll cycle and one digest run, as plain async functions.

The pipeline, and the code below follows it stage by stage:

    store.feeds_due(now) | fetch | parse | store.add_new_articles | match
        | store.add_hits + store.enqueue (alerts, surges; each feed with its new
          ETag/Last-Modified, the feeds ready together in one transaction)
        | store.index_new_articles (for /search; every 2,000 articles, in idle
          moments and at the end)
        | archive | deliver | store.finish_sent

`parse` (and, in a big cycle, `match` as well) runs in worker processes
(parsepool.py); everything that touches the database runs here.

A feed that fails becomes a recorded outcome (`feeds.last_error`, backoff)
and the cycle goes on. Nothing is sent from the poll itself: alerts are
queued in the outbox and the outbox is drained at the end of the cycle.

Stopping (SIGTERM, or the cycle deadline) cancels the fetching task. Storing
a batch of feeds is synchronous code with no `await` in it, so cancellation
lands between batches, never inside a transaction: the batch in flight is
stored completely, the rest stay due, and their alerts wait in the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from monitor.core.config import Config
from monitor.core.errors import MatchError
from monitor.core.models import Article, Feed, Hit
from monitor.core.progress import Progress
from monitor.core.stop import StopSignal
from monitor.core.timeutil import utcnow
from monitor.delivery.drain import DrainReport, DrainState, Sink, drain_outbox
from monitor.feeds.fetch import Connections, Fetcher
from monitor.feeds.parsepool import (
    ParsePool,
    ParseWorkers,
    ReadFeed,
    auto_workers,
    inline_budget_for,
)
from monitor.matching.library import WatchlistLibrary
from monitor.pipeline.alerts import alert_recipients, queue_alerts
from monitor.pipeline.digestjob import update_archive
from monitor.pipeline.notices import queue_reload_notices
from monitor.pipeline.surge import queue_surges
from monitor.storage.store import Store

log = logging.getLogger(__name__)
INDEX_WHEN_IDLE_SECONDS = 0.25
# FTS5 indexes 14,000 articles for the same CPU in one piece or in pieces of 2,000
# (0.3-0.5 s either way); at the end of a cycle that time is all one core does.
INDEX_EVERY_ARTICLES = 2_000
# Feeds stored in one transaction, when they are ready within BATCH_LINGER_SECONDS of
# each other: at 45 articles a feed, committing 16 at once costs 10-20% less CPU than
# one by one (four random-key indexes: the feeds share index pages). A batch takes
# about 0.2 s, so a stop request still lands within a moment.
FEEDS_PER_TRANSACTION = 16
BATCH_LINGER_SECONDS = 0.1


@dataclass(slots=True)
class Runtime:
    """What a cycle needs; built once by the CLI, shared by the scheduler's jobs."""

    config: Config
    store: Store
    library: WatchlistLibrary
    sinks: list[Sink]
    telegram_enabled: bool = False
    clock: Callable[[], datetime] = utcnow
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    drain: DrainState = field(default_factory=DrainState)
    # called with a chat id when its subscriptions or digest time change (the scheduler
    # re-plans that chat's digest); set by scheduler.build_scheduler
    chat_changed: Callable[[str], None] = lambda chat_id: None
    stopping: StopSignal = field(default_factory=lambda: StopSignal())  # SIGTERM/SIGINT
    # what outlives a cycle in the service (`service_resources`): the parse workers with
    # their compiled matcher, and kept-alive HTTP connections. None: per cycle (poll --once)
    workers: ParseWorkers | None = None
    connections: Connections | None = None

    @property
    def default_tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.digest.timezone)


@dataclass(slots=True)
class CycleReport:
    feeds_ok: int = 0
    feeds_failed: int = 0
    feeds_not_modified: int = 0
    articles_new: int = 0
    hits_new: int = 0
    alerts_queued: int = 0
    errors: list[str] = field(default_factory=list)
    delivery: DrainReport | None = None
    interrupted: bool = False  # stopped by a signal before every due feed was polled

    def summary(self) -> str:
        return (
            f"feeds_ok={self.feeds_ok} feeds_failed={self.feeds_failed} "
            f"not_modified={self.feeds_not_modified} articles_new={self.articles_new} "
            f"hits_new={self.hits_new} alerts_queued={self.alerts_queued}"
        )


def sync_config_feeds(rt: Runtime) -> None:
    rt.store.sync_feeds(((f.url, f.name, f.lang) for f in rt.config.feeds), rt.clock())


async def poll_cycle(rt: Runtime) -> CycleReport:
    """Fetch every due feed, store what is new, match it, queue and send alerts."""
    async with rt.lock:  # never two cycles at once, whoever calls
        report = CycleReport()
        if rt.stopping.is_set():
            report.interrupted = True
            return report
        reload = rt.library.refresh()
        if reload.errors or reload.removed:
            queue_reload_notices(rt.store, rt.config, rt.telegram_enabled, reload, rt.clock())
        started = rt.clock()
        cycle_id = rt.store.start_cycle(started)
        rt.store.prune_title_index(started)
        feeds = rt.store.feeds_due(started)
        pending = {feed.url: feed for feed in feeds}
        outcome = await _fetch_and_store(rt, feeds, pending, report)
        if outcome != "stopped":  # what the idle moments left (a stop must be quick:
            rt.store.index_new_articles()  # the next cycle indexes these)
        if outcome == "deadline":
            deadline = rt.config.poll.cycle_deadline_seconds
            for feed in pending.values():
                error = f"no answer before the cycle deadline ({deadline:g}s)"
                record_failure(rt, feed, error, report, duration=deadline)
        if outcome == "stopped":
            report.interrupted = True
            report.delivery = DrainReport()  # queued alerts wait in the outbox for the next run
            log.warning("cycle interrupted by a stop request; %d feeds not polled", len(pending))
        else:
            update_archive(rt)
            report.delivery = await deliver(rt)
        rt.store.finish_cycle(
            cycle_id,
            rt.clock(),
            feeds_ok=report.feeds_ok,
            feeds_failed=report.feeds_failed,
            articles_new=report.articles_new,
            hits_new=report.hits_new,
            error="interrupted" if report.interrupted else None,
        )
        log.info("cycle done %s sent=%d", report.summary(), report.delivery.sent)
        return report


async def _fetch_and_store(
    rt: Runtime, feeds: Sequence[Feed], pending: dict[str, Feed], report: CycleReport
) -> str:
    """Run fetch | read | store_feed until done, the cycle deadline, or a stop request.

    Returns "done", "deadline" or "stopped"; `pending` keeps the feeds not processed.
    """
    poll = rt.config.poll

    async def fetch_and_store() -> None:
        workers = auto_workers(poll.parse_workers)
        with ThreadPoolExecutor(1, thread_name_prefix="store") as writer:
            async with (
                Fetcher(poll, connections=rt.connections) as fetcher,
                ParsePool(
                    workers,
                    rt.library.watchlists,
                    inline_budget_for(feeds),
                    poll.field_limits,
                    shared=rt.workers,
                ) as pool,
            ):
                batches = fetcher.fetch_batches(
                    feeds,
                    lambda r: pool.read(r, rt.clock()),
                    most=FEEDS_PER_TRANSACTION,
                    linger=BATCH_LINGER_SECONDS,
                )
                await _store_all(rt, writer, batches, pending, report)

    work = asyncio.create_task(fetch_and_store())
    stop = asyncio.create_task(rt.stopping.wait())
    try:
        await asyncio.wait(
            {work, stop}, timeout=poll.cycle_deadline_seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stop.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
    if not work.cancelled():
        work.result()  # a store failure ends the cycle (exit 1), as it should
        return "done"
    return "stopped" if rt.stopping.is_set() else "deadline"


async def _store_all(
    rt: Runtime,
    writer: ThreadPoolExecutor,
    batches: AsyncIterator[list[ReadFeed]],
    pending: dict[str, Feed],
    report: CycleReport,
) -> None:
    """store_feeds for every batch as it comes. What is stored so far is indexed for
    /search when no batch has come for a moment (the cycle waits on slow servers) and
    every INDEX_EVERY_ARTICLES articles: the articles are searchable sooner, and the
    end of the cycle, when one core idles, has little left to do."""
    progress = Progress(len(pending))
    try:
        await _store_batches(rt, writer, batches, pending, report, progress)
    finally:
        progress.close()


async def _store_batches(
    rt: Runtime,
    writer: ThreadPoolExecutor,
    batches: AsyncIterator[list[ReadFeed]],
    pending: dict[str, Feed],
    report: CycleReport,
    progress: Progress,
) -> None:
    unindexed = 0  # articles stored since the last index_new_articles
    while True:
        following = asyncio.ensure_future(anext(batches))
        try:
            if unindexed:
                done, _ = await asyncio.wait({following}, timeout=INDEX_WHEN_IDLE_SECONDS)
                if not done:
                    await _on_writer(writer, rt.store.index_new_articles)
                    unindexed = 0
            batch = await following
        except StopAsyncIteration:
            return
        finally:
            following.cancel()  # when the cycle is cancelled while waiting: stop the fetching
        for item in batch:
            pending.pop(item.result.feed.url, None)
        stored_before = report.articles_new
        await _on_writer(writer, store_feeds, rt, batch, report)
        progress.done(len(batch), report.articles_new - stored_before)
        unindexed += report.articles_new - stored_before
        if unindexed >= INDEX_EVERY_ARTICLES:
            await _on_writer(writer, rt.store.index_new_articles)
            unindexed = 0


async def _on_writer(writer: ThreadPoolExecutor, store: Callable[..., None], *args) -> None:
    """Store on the writer thread, so the event loop keeps fetching while SQLite commits.

    One thread, one call at a time: the connection is never used concurrently. If the
    cycle is cancelled meanwhile, the transaction in flight still completes first.
    """
    future = asyncio.get_running_loop().run_in_executor(writer, store, *args)
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait({future})
        raise


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
        error = parsed.error if parsed else "nothing to read"
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


async def deliver(rt: Runtime) -> DrainReport:
    """Drain the outbox. Shielded: a caller cancelled at shutdown (the scheduler cancels its
    jobs) never cuts a send off between Telegram's answer and `finish_sent`; the drain stops
    by itself before its next message once `rt.drain.stopping` is set."""
    return await asyncio.shield(drain_outbox(rt.store, rt.sinks, rt.clock, state=rt.drain))
