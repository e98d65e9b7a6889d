"""`monitor run`: build the runtime and run the scheduler (and the bot) until SIGTERM/SIGINT.

Without TELEGRAM_BOT_TOKEN the bot is off and alerts and digests go to the
console sink through the same outbox. With it, the Telegram sink sends the
outbox, python-telegram-bot's Application polls for commands in this same
asyncio loop, and each subscriber's digest comes at their own time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from zoneinfo import ZoneInfo

from .bot import build_application, start_bot, stop_bot
from .chats import migrate
from .cli import build_runtime, telegram_token
from .config import Config
from .deliver.ratelimit import Limits, RateLimiter, SendGate
from .deliver.telegram import TelegramSink
from .errors import DeliveryError
from .scheduler import run_until_stopped
from .stop import stop_on_signals
from .worker import CycleReport, Runtime, poll_cycle, sync_config_feeds

log = logging.getLogger(__name__)

DRAIN_BUDGET_SECONDS = 60.0  # a drain waiting on rate limits hands over to the next one
STOP_GRACE_SECONDS = 10.0
CONNECT_ATTEMPTS = 5


async def poll_once(config: Config) -> tuple[CycleReport, list[str]]:
    """`monitor poll --once`: with a token, subscribers get their alerts from this cycle too
    (rows the rate limits hold back wait in the outbox for the next run). SIGTERM/SIGINT
    stop it between feeds; returns the report and the signals received."""
    token = telegram_token()
    rt = build_telegram_runtime(config, token) if token else build_runtime(config)
    sync_config_feeds(rt)
    sink = telegram_sink(rt) if token else None
    try:
        if sink is not None:
            try:
                await sink.start()
            except DeliveryError as exc:  # poll anyway: the alerts wait in the outbox
                log.warning("telegram unreachable, alerts stay queued error=%s", exc)
                rt.sinks.remove(sink)
                sink = None
        with stop_on_signals(rt.stopping) as received:
            return await poll_cycle(rt), received
    finally:
        if sink is not None:
            await sink.close()
        rt.store.close()


async def run_worker(config: Config) -> int:
    token = telegram_token()
    rt = build_telegram_runtime(config, token) if token else build_runtime(config)
    sync_config_feeds(rt)
    try:
        if token:
            await run_with_bot(rt, token)
        else:
            await run_until_stopped(rt)
    finally:
        rt.store.close()
    return 0


def build_telegram_runtime(config: Config, token: str, limits: Limits | None = None) -> Runtime:
    """The runtime with the Telegram sink: Telegram chats get Telegram, `console` the console."""
    gate = SendGate(RateLimiter(limits))
    default_tz = ZoneInfo(config.digest.timezone)
    sink = TelegramSink.connect(token, config.telegram.base_url, gate, default_tz)
    rt = build_runtime(config, sinks=[sink], telegram_enabled=True)
    rt.drain.budget_seconds = DRAIN_BUDGET_SECONDS
    sink.on_migrated = lambda old, new: migrate(rt, old, new, rt.clock())
    return rt


def telegram_sink(rt: Runtime) -> TelegramSink:
    return next(s for s in rt.sinks if isinstance(s, TelegramSink))


async def run_with_bot(rt: Runtime, token: str, poll_timeout: float = 30) -> None:
    sink = telegram_sink(rt)
    await connect(sink)
    app = build_application(rt, token, sink.gate)
    try:
        await run_until_stopped(
            rt,
            extra_start=lambda: start_bot(app, poll_timeout),
            extra_stop=lambda: stop_telegram(rt, app),
        )
    finally:
        await sink.close()


async def connect(sink: TelegramSink, attempts: int = CONNECT_ATTEMPTS) -> None:
    """getMe, retried a few times (the network may come up after us); a bad token fails at once."""
    for attempt in range(1, attempts + 1):
        try:
            await sink.start()
            return
        except DeliveryError as exc:
            if attempt == attempts:
                raise
            log.warning("telegram not reachable yet attempt=%d error=%s", attempt, exc)
            await asyncio.sleep(2**attempt)


async def stop_telegram(rt: Runtime, app: object) -> None:
    """Drains stop before their next message (the rest waits in the outbox), then the bot."""
    rt.drain.stopping = True
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while rt.drain.active and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await stop_bot(app)  # type: ignore[arg-type]
