"""`monitor run` and `poll --once` with TELEGRAM_BOT_TOKEN: the Telegram sink and the bot.

Only imported when a token is set (run.py), so the console mode never loads
python-telegram-bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from monitor.bot.app import BotApp, build_application, start_bot, stop_bot
from monitor.core.config import Config
from monitor.core.errors import ConfigError, DeliveryError
from monitor.delivery.ratelimit import Limits, RateLimiter, SendGate
from monitor.delivery.telegram import TelegramSink
from monitor.pipeline.chats import migrate
from monitor.pipeline.runtime import Runtime, build_runtime
from monitor.pipeline.scheduler import run_until_stopped
from monitor.pipeline.workers import shared_store

log = logging.getLogger(__name__)

DRAIN_BUDGET_SECONDS = 60.0  # a drain waiting on rate limits hands over to the next one
# a send in flight at shutdown may take the whole send timeout; this much more, to record it
STOP_MARGIN_SECONDS = 2.0
RETRY_FIRST_SECONDS = 2.0  # Telegram out of reach: the bot's first retry, doubling ...
RETRY_MAX_SECONDS = 300.0  # ... up to every five minutes


def build_telegram_runtime(config: Config, token: str, limits: Limits | None = None) -> Runtime:
    """The runtime with the Telegram sink: Telegram chats get Telegram, `console` the console."""
    limits = limits or Limits(global_max=config.telegram.messages_per_second)
    gate = SendGate(RateLimiter(limits))
    default_tz = ZoneInfo(config.digest.timezone)
    sink = TelegramSink.connect(
        token,
        config.telegram.base_url,
        gate,
        default_tz,
        send_timeout=config.telegram.send_timeout_seconds,
    )
    rt = build_runtime(config, sinks=[sink], telegram_enabled=True)
    rt.drain.budget_seconds = DRAIN_BUDGET_SECONDS
    sink.on_migrated = lambda old, new: migrate(rt, old, new, rt.clock())
    return rt


def telegram_sink(rt: Runtime) -> TelegramSink:
    return next(s for s in rt.sinks if isinstance(s, TelegramSink))


async def run_with_bot(rt: Runtime, token: str, poll_timeout: float = 30) -> None:
    """The worker with the bot. Telegram out of reach at start stops nothing: feeds are
    polled, alerts wait in the outbox, and the bot starts once Telegram answers (retried
    with backoff, logged once when it goes and once when it comes back). A token Telegram
    rejects is a configuration error: it ends the worker at once."""
    sink = telegram_sink(rt)
    app = build_application(rt, token, sink.gate)
    try:
        await sink.start()
        reachable = True
    except DeliveryError as exc:
        log.warning(
            "telegram unreachable: polling feeds anyway; alerts wait in the outbox and the bot "
            "starts when Telegram answers (retried with backoff): %s",
            exc,
        )
        reachable = False
    starting: list[asyncio.Task] = []

    async def start() -> None:
        starting.append(
            asyncio.create_task(_start_bot_when_reachable(sink, app, poll_timeout, reachable))
        )

    async def stop() -> None:
        for task in starting:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await stop_telegram(rt, app)

    first_start: Callable[[], Awaitable[None]] | None = start
    if shared_store(rt) is not None:  # the bot starts in the worker that wins the bot lock
        rt.on_lead, first_start = start, None
    try:
        await run_until_stopped(rt, extra_start=first_start, extra_stop=stop)
    finally:
        await sink.close()


async def _start_bot_when_reachable(
    sink: TelegramSink, app: BotApp, poll_timeout: float, reachable: bool
) -> None:
    delay, down = RETRY_FIRST_SECONDS, not reachable
    while True:
        try:
            if not reachable:
                await sink.start()
            await start_bot(app, poll_timeout)
            if down:
                log.warning("telegram reachable again: the bot is polling, the outbox drains")
            return
        except (DeliveryError, ConfigError) as exc:
            if not down:
                log.warning("telegram unreachable, retrying with backoff: %s", exc)
            down, reachable = True, False
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_SECONDS)


async def stop_telegram(rt: Runtime, app: BotApp) -> None:
    """Drains stop before their next message (the rest waits in the outbox), then the bot.
    A message in flight is waited for as long as a send may take: cut off, it would be
    delivered but not recorded as sent, and the next run would send it again."""
    rt.drain.stopping = True
    grace = rt.config.telegram.send_timeout_seconds + STOP_MARGIN_SECONDS
    deadline = time.monotonic() + grace
    while rt.drain.active and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await stop_bot(app)
