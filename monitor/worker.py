"""One poll cycle and one digest run, as plain async functions.

The pipeline, and the code below follows it stage by stage:

    store.feeds_due(now) | fetch | parse | store.add_new_articles | match
        | store.add_hits + store.enqueue (alerts, surges; one transaction per
          feed, with the feed's new ETag/Last-Modified) | archive | deliver
        | store.mark_sent

A feed that fails becomes a recorded outcome (`feeds.last_error`, backoff)
and the cycle goes on. Nothing is sent from the poll itself: alerts are
queued in the outbox and the outbox is drained at the end of the cycle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from .archive import refresh_archive
from .config import Config
from .deliver import DrainReport, DrainState, Sink, drain_outbox
from .deliver.console import CONSOLE_CHAT
from .digest import build_digest
from .feedback import alert_keyboard, digest_payloads
from .fetch import Fetcher
from .library import WatchlistLibrary
from .models import Article, Feed, FetchResult, Hit
from .notices import queue_reload_notices
from .parse import parse_feed
from .render import alert_payload
from .store import Store
from .surge import queue_surges
from .timeutil import parse_iso, utcnow

log = logging.getLogger(__name__)


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
        outcome = rt.library.refresh()
        if outcome.errors or outcome.removed:
            queue_reload_notices(rt.store, rt.config, rt.telegram_enabled, outcome, rt.clock())
        report = CycleReport()
        started = rt.clock()
        cycle_id = rt.store.start_cycle(started)
        feeds = rt.store.feeds_due(started)
        pending = {feed.url: feed for feed in feeds}
        try:
            async with asyncio.timeout(rt.config.poll.cycle_deadline_seconds):
                async with Fetcher(rt.config.poll) as fetcher:
                    async for result in fetcher.fetch_all(feeds):
                        pending.pop(result.feed.url, None)
                        process_result(rt, result, report)
        except TimeoutError:
            deadline = rt.config.poll.cycle_deadline_seconds
            for feed in pending.values():
                record_failure(
                    rt, feed, f"no answer before the cycle deadline ({deadline:g}s)", report
                )
        update_archive(rt)
        report.delivery = await deliver(rt)
        rt.store.finish_cycle(
            cycle_id,
            rt.clock(),
            feeds_ok=report.feeds_ok,
            feeds_failed=report.feeds_failed,
            articles_new=report.articles_new,
            hits_new=report.hits_new,
        )
        log.info("cycle done %s sent=%d", report.summary(), report.delivery.sent)
        return report


def process_result(rt: Runtime, result: FetchResult, report: CycleReport) -> None:
    """parse | add_new_articles | match | add_hits + enqueue, in one transaction per feed."""
    feed, now = result.feed, rt.clock()
    if result.error:
        record_failure(rt, feed, result.error, report, status=result.status)
        return
    if result.not_modified:
        rt.store.record_fetch(feed.url, now, ok=True, status=304)
        report.feeds_ok += 1
        report.feeds_not_modified += 1
        return
    parsed = parse_feed(result, now, source_name=feed.name)
    if parsed.error:
        record_failure(rt, feed, parsed.error, report, status=result.status)
        return
    if parsed.warning or result.truncated:
        log.warning("feed=%s %s", feed.url, parsed.warning or "response cut off at max_bytes")
    with rt.store.transaction():
        new_articles = rt.store.add_new_articles(feed.url, parsed.articles, now)
        hits = [hit for article in new_articles for hit in rt.library.matcher.match(article)]
        stored = rt.store.add_hits(hits, now)
        queued = queue_alerts(rt, new_articles, stored, now)
        recipients = partial(alert_recipients, rt, now)  # looked up only when a story surges
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
        )
    report.feeds_ok += 1
    report.articles_new += len(new_articles)
    report.hits_new += len(stored)
    report.alerts_queued += queued
    if stored:
        log.info("feed=%s new_articles=%d hits=%d", feed.url, len(new_articles), len(stored))


def record_failure(
    rt: Runtime, feed: Feed, error: str, report: CycleReport, status: int | None = None
) -> None:
    failures = feed.failures + 1
    delay = backoff_delay(
        failures, rt.config.poll.interval_seconds, rt.config.poll.max_backoff_seconds
    )
    rt.store.record_fetch(
        feed.url, rt.clock(), ok=False, status=status, error=error, retry_after=delay
    )
    report.feeds_failed += 1
    report.errors.append(f"{feed.url}: {error}")
    log.warning("feed failed feed=%s failures=%d error=%s", feed.url, failures, error)


def backoff_delay(failures: int, interval: int, cap: int) -> timedelta | None:
    """None after one failure (try again next cycle), then doubling intervals up to `cap`."""
    if failures <= 1:
        return None
    return timedelta(seconds=min(interval * 2 ** (failures - 1), cap))


def queue_alerts(
    rt: Runtime, articles: Sequence[Article], hits: Sequence[Hit], now: datetime
) -> int:
    """One outbox row per (chat, article) for high-priority hits; several topics, one alert."""
    urgent: dict[str, list[Hit]] = {}
    for hit in hits:
        if hit.priority == "high":
            urgent.setdefault(hit.article_id, []).append(hit)
    if not urgent:
        return 0
    by_id = {a.id: a for a in articles}
    recipients = alert_recipients(rt, now)
    titles = rt.library.topic_titles()
    queued = 0
    for article_id, article_hits in urgent.items():
        for chat_id, (wanted, tz) in recipients.items():
            chosen = [h for h in article_hits if wanted(h.watchlist, h.topic)]
            if not chosen:
                continue
            payload = alert_payload(by_id[article_id], chosen, titles)
            payload["timezone"] = tz
            if chat_id != CONSOLE_CHAT:  # 👍 / 👎 under every Telegram alert
                hit_ids = rt.store.hit_ids(article_id, [(h.watchlist, h.topic) for h in chosen])
                payload["reply_markup"] = alert_keyboard(rt.store.add_vote_target(hit_ids, now))
            queued += rt.store.enqueue(
                chat_id, "alert", f"alert:{chat_id}:{article_id}", payload, now
            )
    return queued


def alert_recipients(
    rt: Runtime, now: datetime
) -> dict[str, tuple[Callable[[str, str], bool], str]]:
    """chat id -> (does it want watchlist/topic, its time zone). The console takes all."""
    default_tz = rt.config.digest.timezone
    if not rt.telegram_enabled:
        return {CONSOLE_CHAT: (lambda watchlist, topic: True, default_tz)}
    muted = rt.store.muted_chats(now)
    subs_by_chat: dict[str, list] = {}
    for sub in rt.store.subscriptions(active_only=True):
        if sub.chat_id not in muted:
            subs_by_chat.setdefault(sub.chat_id, []).append(sub)
    return {
        chat_id: (
            (lambda w, t, subs=subs: any(s.wants(w, t) for s in subs)),
            subs[0].timezone or default_tz,
        )
        for chat_id, subs in subs_by_chat.items()
    }


async def deliver(rt: Runtime) -> DrainReport:
    """Drain the outbox. Shielded: a caller cancelled at shutdown (the scheduler cancels its
    jobs) never cuts a send off between Telegram's answer and `mark_sent`; the drain stops
    by itself before its next message once `rt.drain.stopping` is set."""
    return await asyncio.shield(drain_outbox(rt.store, rt.sinks, rt.clock, state=rt.drain))


def queue_digest(
    rt: Runtime,
    chat_id: str,
    now: datetime,
    tz_name: str | None = None,
    wants: Callable[[str, str], bool] | None = None,
) -> int:
    """Queue a chat's digest of the hits since its previous one; returns the messages queued.

    The window is by hit id, not by time: no gap and no overlap across restarts,
    clock changes and time-zone changes. One digest per local date in the chat's
    zone at the time: a chat that moved west and meets a date again still gets
    that day's digest (its key then names the zone). A chat's first digest covers
    the last day.
    """
    tz = ZoneInfo(tz_name or rt.config.digest.timezone)
    date = now.astimezone(tz).date().isoformat()
    chat = rt.store.chat(chat_id) or {}
    last_at = parse_iso(chat.get("last_digest_at"))
    if last_at is not None and last_at.astimezone(tz).date().isoformat() == date:
        return 0  # today's digest went out already
    key = f"digest:{chat_id}:{date}"
    if rt.store.outbox_key_exists(key):
        key += f"@{tz.key}"
    after = chat.get("last_digest_hit_id")
    if after is None:
        after = rt.store.last_hit_id(before=now - timedelta(days=1))
    rows = rt.store.hits_after(after)
    last_id = max((r["hit_id"] for r in rows), default=after)
    rows = [r for r in rows if wants is None or wants(r["watchlist"], r["topic"])]
    digest = build_digest(
        rows, date, tz, rt.library.topic_titles(), rt.library.watchlist_titles(), now
    )
    queued = 0
    with rt.store.transaction():
        rt.store.update_chat(chat_id, now)
        send = digest.topics or rt.config.digest.send_empty
        payloads = digest_payloads(rt.store, digest, chat_id, now) if send else []
        for index, payload in enumerate(payloads):
            part_key = key + (f":{index + 1}" if index else "")
            queued += rt.store.enqueue(chat_id, "digest", part_key, payload, now)
        if queued or not payloads:
            rt.store.record_digest(chat_id, date, digest.hit_count, last_id, now)
    log.info(
        "digest queued chat=%s date=%s hits=%d parts=%d", chat_id, date, digest.hit_count, queued
    )
    return queued


def update_archive(rt: Runtime) -> None:
    """Today's (and yesterday's) digest page, if a hit or vote is newer than it; a disk
    problem is logged, never a reason to lose the cycle."""
    try:
        refresh_archive(
            rt.store,
            rt.config.digest.html_dir,
            rt.default_tz,
            rt.library.topic_titles(),
            rt.library.watchlist_titles(),
            rt.clock(),
        )
    except OSError as exc:
        log.warning("digest pages not written dir=%s error=%s", rt.config.digest.html_dir, exc)
