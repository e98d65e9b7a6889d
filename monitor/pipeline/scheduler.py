"""APScheduler wiring of the worker's jobs, in the same asyncio loop as the bot.

- poll: at start, then every `interval_seconds` with jitter; never two at
  once (max_instances=1), missed runs coalesce into one;
- digests: daily at `[digest] time` in `[digest] timezone` for the console,
  and per subscriber at their own time and zone when Telegram is on
  (`DailyAt`: once per local day across daylight-saving changes);
- housekeeping: daily retention and upkeep at a quiet hour (`housekeeping.py`);
- SIGTERM/SIGINT stop the loop after the job in flight finishes its transaction.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.core.memory import give_back_free_memory
from monitor.core.outbox import CONSOLE_CHAT
from monitor.core.timeutil import clock_time, local_at
from monitor.pipeline.chats import chat_settings, digest_missed, queue_chat_digest
from monitor.pipeline.cycle import deliver, poll_cycle
from monitor.pipeline.digestjob import queue_digest
from monitor.pipeline.housekeeping import run_housekeeping
from monitor.pipeline.runtime import Runtime
from monitor.pipeline.service import service_resources
from monitor.pipeline.workers import beat, heartbeat_seconds, register, shared_store, unregister

log = logging.getLogger(__name__)
MISFIRE_GRACE_SECONDS = 300
HOUSEKEEPING_TIME = "03:17"  # local to [digest] timezone: a quiet hour, off the round minute


class DailyAt(BaseTrigger):
    """Fires once a day at HH:MM local time in `zone`, daylight saving included.

    APScheduler 3's CronTrigger fires twice when the time falls in the hour that
    repeats when clocks go back (01:30 in New York), and can return a time
    already past. Here the first occurrence wins (fold=0) and a time that does
    not exist when clocks go forward (02:30) fires at the same UTC instant one
    hour later on the wall clock (03:30). Either way: once per local day.
    """

    __slots__ = ("hour", "minute", "zone")

    def __init__(self, hhmm: str, zone: str) -> None:
        at = clock_time(hhmm)
        self.hour, self.minute = at.hour, at.minute
        self.zone = ZoneInfo(zone)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        day = now.astimezone(self.zone).date() - timedelta(days=1)
        while True:
            local = local_at(day, time(self.hour, self.minute), self.zone)
            candidate = local.astimezone(UTC)
            if candidate >= now and (previous_fire_time is None or candidate > previous_fire_time):
                return candidate
            day += timedelta(days=1)

    def __str__(self) -> str:
        return f"daily at {self.hour:02d}:{self.minute:02d} {self.zone.key}"


DRAIN_INTERVAL_SECONDS = 5


def build_scheduler(rt: Runtime) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    poll = rt.config.poll
    scheduler.add_job(
        _guarded(_poll, rt, "poll"),
        IntervalTrigger(seconds=poll.interval_seconds, jitter=poll.jitter_seconds or None),
        id="poll",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        next_run_time=rt.clock(),
    )
    if shared_store(rt) is not None:
        # several workers: the bot's, the digests' and housekeeping's jobs wait until this
        # one holds the bot lock (workers.py); the heartbeat tries for it
        scheduler.add_job(
            _guarded(partial(_beat, scheduler=scheduler), rt, "heartbeat"),
            IntervalTrigger(seconds=heartbeat_seconds(rt)),
            id="heartbeat",
            max_instances=1,
            coalesce=True,
            next_run_time=rt.clock(),
        )
    else:
        rt.leading = True
        add_leader_jobs(scheduler, rt)
    return scheduler


def add_leader_jobs(scheduler: AsyncIOScheduler, rt: Runtime) -> None:
    """The jobs only one worker runs: digests (and with Telegram the periodic drain) and
    housekeeping."""
    if not rt.telegram_enabled:
        scheduler.add_job(
            _guarded(_console_digest, rt, "digest"),
            DailyAt(rt.config.digest.time, rt.config.digest.timezone),
            id="digest:console",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
    else:
        schedule_subscribers(scheduler, rt)
    scheduler.add_job(
        _guarded(_housekeeping, rt, "housekeeping"),
        DailyAt(HOUSEKEEPING_TIME, rt.config.digest.timezone),
        id="housekeeping",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )


async def _beat(rt: Runtime, scheduler: AsyncIOScheduler) -> None:
    """A heartbeat; on winning the bot lock, this worker takes over the leader's jobs. A
    leader that loses the lock (its connection dropped: the server freed it, and another
    worker may hold it now) stops, so that one worker alone runs the bot and the digests;
    it exits 1 and its service manager starts it again, as a follower."""
    holds = await beat(rt)
    if rt.leading and not holds:
        log.error(
            "lost the bot lock: stopping this worker, so that one worker alone runs the "
            "bot and the digests; started again, it rejoins"
        )
        rt.lost_lead = True
        rt.stopping.set()
        return
    if holds and not rt.leading:
        rt.leading = True
        log.info(
            "this worker holds the bot: digests, housekeeping%s run here",
            " and the bot" if rt.telegram_enabled else "",
        )
        add_leader_jobs(scheduler, rt)
        if rt.on_lead is not None:
            await rt.on_lead()


async def _housekeeping(rt: Runtime) -> None:
    await run_housekeeping(rt.store, rt.config.storage.keep_days, rt.clock())


def schedule_subscribers(scheduler: AsyncIOScheduler, rt: Runtime) -> None:
    """Every subscriber's digest at its own time and zone, kept in step with /subscribe and
    /digesttime (`rt.chat_changed`); and a short periodic drain, so retries and digests
    go out promptly between polls. A digest missed while the worker was down goes now."""
    scheduler.add_job(
        _guarded(deliver, rt, "drain"),
        IntervalTrigger(seconds=DRAIN_INTERVAL_SECONDS),
        id="drain",
        max_instances=16,  # drains overlap safely: a chat is leased to one of them at a time
        coalesce=True,
        misfire_grace_time=DRAIN_INTERVAL_SECONDS,
    )
    now = rt.clock()
    for chat_id in rt.store.digest_chats():
        schedule_chat_digest(scheduler, rt, chat_id, catch_up=digest_missed(rt, chat_id, now))
    rt.chat_changed = lambda chat_id: schedule_chat_digest(scheduler, rt, chat_id)


def schedule_chat_digest(
    scheduler: AsyncIOScheduler, rt: Runtime, chat_id: str, catch_up: bool = False
) -> None:
    """(Re)plan one chat's daily digest from its settings; none while it follows nothing."""
    job_id = f"digest:{chat_id}"
    settings = chat_settings(rt, chat_id)
    if not settings.wants_digests:
        if scheduler.get_job(job_id):
            scheduler.remove_job(job_id)
        return
    first_run = {"next_run_time": rt.clock()} if catch_up else {}
    scheduler.add_job(
        _guarded(partial(run_chat_digest, chat_id=chat_id), rt, job_id),
        DailyAt(settings.digest_time, settings.timezone),
        id=job_id,
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        **first_run,
    )


async def run_chat_digest(rt: Runtime, chat_id: str) -> None:
    """One subscriber's daily digest: queue it (once per local date), then send it. The
    queueing writes, so it runs in a thread: a poll cycle holding the write lock makes the
    digest wait, not the event loop (and with it the bot and every send)."""
    await asyncio.to_thread(queue_chat_digest, rt, chat_id, rt.clock())
    await deliver(rt)


async def _console_digest(rt: Runtime) -> None:
    await asyncio.to_thread(queue_digest, rt, CONSOLE_CHAT, rt.clock())
    await deliver(rt)


async def _poll(rt: Runtime) -> None:
    """A poll cycle; then the memory it freed goes back to the system (core/memory.py)."""
    try:
        await poll_cycle(rt)
    finally:
        give_back_free_memory()


def _guarded(
    job: Callable[[Runtime], Awaitable], rt: Runtime, name: str
) -> Callable[[], Awaitable]:
    """A job that logs its failure instead of killing the scheduler."""

    async def run() -> None:
        try:
            await job(rt)
        except asyncio.CancelledError:
            # shutdown cancels the jobs; a drain in flight finishes its message by itself
            # (it is shielded) and the shutdown waits for it: nothing to report
            log.debug("job cancelled at shutdown job=%s", name)
        except Exception:
            log.exception("job failed job=%s", name)

    run.__name__ = f"{name}_job"
    return run


async def _first(*waits: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def run_until_stopped(
    rt: Runtime,
    extra_start: Callable[[], Awaitable] | None = None,
    extra_stop: Callable[[], Awaitable] | None = None,
) -> None:
    """Run the scheduler (and the bot) until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    register(rt)
    async with service_resources(rt):  # parse workers and connections kept across cycles
        scheduler = build_scheduler(rt)
        scheduler.start()
        if extra_start:
            await extra_start()
        log.info(
            "worker started interval=%ds feeds=%d",
            rt.config.poll.interval_seconds,
            len(rt.store.feeds_due(rt.clock())),
        )
        try:  # SIGTERM/SIGINT, or a stop of its own (a lost bot lock)
            await _first(stop.wait(), rt.stopping.wait())
        finally:
            log.info("stopping: waiting for the job in flight")
            rt.stopping.set()  # a poll cycle in flight stops after the feed it is storing
            async with rt.lock:  # ... and records itself; shutdown() would cancel it mid-way
                pass
            scheduler.shutdown(wait=False)
            if extra_stop:
                await extra_stop()
            await asyncio.to_thread(unregister, rt)
    log.info("stopped")  # the workers and connections are closed too
