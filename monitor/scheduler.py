"""APScheduler wiring of the worker's jobs, in the same asyncio loop as the bot.

- poll: at start, then every `interval_seconds` with jitter; never two at
  once (max_instances=1), missed runs coalesce into one;
- digests: daily at `[digest] time` in `[digest] timezone` for the console,
  and per subscriber at their own time and zone when Telegram is on;
- SIGTERM/SIGINT stop the loop after the job in flight finishes its transaction.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .deliver.console import CONSOLE_CHAT
from .worker import Runtime, deliver, poll_cycle, queue_digest

log = logging.getLogger(__name__)
MISFIRE_GRACE_SECONDS = 300


def build_scheduler(rt: Runtime) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    poll = rt.config.poll
    scheduler.add_job(
        _guarded(poll_cycle, rt, "poll"),
        IntervalTrigger(seconds=poll.interval_seconds, jitter=poll.jitter_seconds or None),
        id="poll",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        next_run_time=rt.clock(),
    )
    if not rt.telegram_enabled:
        hour, minute = (int(x) for x in rt.config.digest.time.split(":"))
        scheduler.add_job(
            _guarded(_console_digest, rt, "digest"),
            CronTrigger(hour=hour, minute=minute, timezone=rt.config.digest.timezone),
            id="digest:console",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
    return scheduler


async def _console_digest(rt: Runtime) -> None:
    queue_digest(rt, CONSOLE_CHAT, rt.clock())
    await deliver(rt)


def _guarded(
    job: Callable[[Runtime], Awaitable], rt: Runtime, name: str
) -> Callable[[], Awaitable]:
    """A job that logs its failure instead of killing the scheduler."""

    async def run() -> None:
        try:
            await job(rt)
        except Exception:
            log.exception("job failed job=%s", name)

    run.__name__ = f"{name}_job"
    return run


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
    scheduler = build_scheduler(rt)
    scheduler.start()
    if extra_start:
        await extra_start()
    log.info(
        "worker started interval=%ds feeds=%d",
        rt.config.poll.interval_seconds,
        len(rt.store.feeds_due(rt.clock())),
    )
    try:
        await stop.wait()
    finally:
        log.info("stopping: waiting for the job in flight")
        rt.stopping.set()  # a poll cycle in flight stops after the feed it is storing
        async with rt.lock:  # ... and records itself; shutdown() would cancel it mid-way
            pass
        scheduler.shutdown(wait=False)
        if extra_stop:
            await extra_stop()
        log.info("stopped")
