"""`monitor run`: build the runtime and run the scheduler (and the bot) until SIGTERM/SIGINT.

Without TELEGRAM_BOT_TOKEN the bot is off and alerts and digests go to the
console sink through the same outbox. With it, the Telegram sink sends the
outbox, python-telegram-bot's Application polls for commands in this same
asyncio loop, and each subscriber's digest comes at their own time (botmode.py;
imported only then: python-telegram-bot is 8 MB of the service's memory).
"""

from __future__ import annotations

import logging
import os

from monitor.core.config import Config
from monitor.core.errors import DeliveryError
from monitor.core.memory import limit_malloc_arenas
from monitor.core.stop import stop_on_signals
from monitor.pipeline.cycle import poll_cycle, sync_config_feeds
from monitor.pipeline.runtime import CycleReport, Runtime, build_runtime
from monitor.pipeline.scheduler import run_until_stopped
from monitor.pipeline.workers import register, unregister

log = logging.getLogger(__name__)


async def poll_once(config: Config) -> tuple[CycleReport, list[str]]:
    """`monitor poll --once`: with a token, subscribers get their alerts from this cycle too
    (rows the rate limits hold back wait in the outbox for the next run). SIGTERM/SIGINT
    stop it between feeds; returns the report and the signals received."""
    limit_malloc_arenas()
    token = telegram_token()
    if token:
        from monitor.cli.botmode import build_telegram_runtime, telegram_sink

        rt = build_telegram_runtime(config, token)
        sink = telegram_sink(rt)
    else:
        rt, sink = build_runtime(config), None
    sync_config_feeds(rt)
    try:
        if sink is not None:
            try:
                await sink.start()
            except DeliveryError as exc:  # poll anyway: the alerts wait in the outbox
                log.warning("telegram unreachable, alerts stay queued error=%s", exc)
                rt.sinks.remove(sink)
                sink = None
        register(rt)  # on PostgreSQL: listed by `monitor status`, its claims end with it
        try:
            with stop_on_signals(rt.stopping) as received:
                return await poll_cycle(rt), received
        finally:
            unregister(rt)
    finally:
        if sink is not None:
            await sink.close()
        rt.store.close()


async def run_worker(config: Config) -> int:
    limit_malloc_arenas()
    token = telegram_token()
    if token:
        from monitor.cli.botmode import build_telegram_runtime, run_with_bot
    rt = build_telegram_runtime(config, token) if token else build_runtime(config)
    sync_config_feeds(rt)
    log_mode(rt)
    try:
        if token:
            await run_with_bot(rt, token)
        else:
            await run_until_stopped(rt)
    finally:
        rt.store.close()
    return 1 if rt.lost_lead else 0


def log_mode(rt: Runtime) -> None:
    """One line at start on where alerts go, and a warning when there is nothing to poll."""
    if rt.telegram_enabled:
        log.info("mode: Telegram bot (TELEGRAM_BOT_TOKEN is set): alerts go to subscribers")
    else:
        log.info("mode: console (no TELEGRAM_BOT_TOKEN): alerts and digests print here")
    if not rt.store.feeds_due(rt.clock()) and not rt.store.feed_rows():
        log.warning("no feeds configured: add [[feeds]] to the config or `monitor feeds add URL`")


def telegram_token() -> str | None:
    return os.environ.get("TELEGRAM_BOT_TOKEN") or None
