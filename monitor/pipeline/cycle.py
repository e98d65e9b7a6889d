"""One poll cycle and one digest run, as plain async functions.

The pipeline, and the code below follows it stage by stage:

    store.feeds_due(now) | fetch | parse | store.add_new_articles | match
        | store.add_hits + store.enqueue (alerts, surges; each feed with its new
          ETag/Last-Modified, the feeds ready together in one transaction)
        | store.index_new_articles (for /search; every 2,000 articles, in idle
          moments and at the end)
        | archive | deliver | store.finish_sent

`parse` runs on a parse thread, or (`[poll] parse_workers`, in a big cycle) in
worker processes with `match` as well (parsepool.py); everything that touches
the database runs here.

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
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from monitor.core.models import Feed
from monitor.core.progress import Progress
from monitor.delivery.drain import DrainReport, drain_outbox
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parsepool import (
    ParsePool,
    ParseWorkers,
    ReadFeed,
    inline_budget_for,
)
from monitor.pipeline.digestjob import update_archive
from monitor.pipeline.notices import queue_reload_notices
from monitor.pipeline.runtime import CycleReport, Runtime
from monitor.pipeline.storefeed import record_failure, store_feeds
from monitor.pipeline.workers import claim_due_feeds

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
        feeds = claim_due_feeds(rt, started)
        pending = {feed.url: feed for feed in feeds}
        with _cycle_workers(rt):
            outcome = await _fetch_and_store(rt, feeds, pending, report)
            # several workers: the next rounds of this one's share, then whatever is
            # still due and unclaimed (a dead worker's feeds)
            while outcome == "done" and (more := claim_due_feeds(rt, started, rt.clock())):
                pending.update({feed.url: feed for feed in more})
                outcome = await _fetch_and_store(rt, more, pending, report)
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


@contextlib.contextmanager
def _cycle_workers(rt: Runtime) -> Iterator[None]:
    """Parse workers for every round of the cycle: the service's, kept across cycles, or
    (`poll --once`) this cycle's own, started at most once, closed at its end."""
    if rt.workers is not None:
        yield
        return
    rt.workers = ParseWorkers.for_poll(rt.config.poll)
    try:
        yield
    finally:
        workers, rt.workers = rt.workers, None
        workers.close()


async def _fetch_and_store(
    rt: Runtime, feeds: Sequence[Feed], pending: dict[str, Feed], report: CycleReport
) -> str:
    """Run fetch | read | store_feed until done, the cycle deadline, or a stop request.

    Returns "done", "deadline" or "stopped"; `pending` keeps the feeds not processed.
    """
    poll = rt.config.poll

    async def fetch_and_store() -> None:
        with ThreadPoolExecutor(1, thread_name_prefix="store") as writer:
            async with (
                Fetcher(poll, connections=rt.connections) as fetcher,
                ParsePool(
                    poll.parse_workers,
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


async def _on_writer(
    writer: ThreadPoolExecutor, store: Callable[..., object], *args: object
) -> None:
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


async def deliver(rt: Runtime) -> DrainReport:
    """Drain the outbox. Shielded: a caller cancelled at shutdown (the scheduler cancels its
    jobs) never cuts a send off between Telegram's answer and `finish_sent`; the drain stops
    by itself before its next message once `rt.drain.stopping` is set, which a stop request
    (SIGTERM) does at once: the messages in flight finish, the rest wait in the outbox.
    Before, a drain went on through its whole budget after SIGTERM."""
    watcher = asyncio.create_task(_stop_drain_on_request(rt))
    try:
        return await asyncio.shield(drain_outbox(rt.store, rt.sinks, rt.clock, state=rt.drain))
    finally:
        watcher.cancel()


async def _stop_drain_on_request(rt: Runtime) -> None:
    await rt.stopping.wait()
    rt.drain.stopping = True
