"""The runtime: what a cycle, the scheduler's jobs and the bot's handlers share.

Built once per process by `build_runtime` (the CLI's commands and `monitor run`),
from the config: the database, the watchlists, and where messages go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.core.config import Config
from monitor.core.stop import StopSignal
from monitor.core.timeutil import utcnow
from monitor.delivery.console import ConsoleSink
from monitor.delivery.drain import DrainReport, DrainState, Sink, sender_name
from monitor.feeds.fetch import Connections
from monitor.feeds.parsepool import ParseWorkers
from monitor.matching.library import WatchlistLibrary
from monitor.storage import Store
from monitor.storage.factory import open_existing_store as open_existing_store  # for the CLI
from monitor.storage.factory import open_store


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
    # names this process in feed leases and `workers` (several workers on PostgreSQL)
    worker_id: str = field(default_factory=sender_name)
    # called once when this worker becomes the one that runs the bot (set by `monitor run`)
    on_lead: Callable[[], Awaitable[None]] | None = None
    leading: bool = False  # this worker runs the bot, the digests and housekeeping
    lost_lead: bool = False  # it did, and lost the bot lock: it stops, and exits 1

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


# -- shared building blocks ----------------------------------------------------------
def build_runtime(
    config: Config, sinks: list[Sink] | None = None, telegram_enabled: bool = False
) -> Runtime:
    library = WatchlistLibrary(config.watchlists.path)
    store = open_store(config)
    default_sinks: list[Sink] = [ConsoleSink(ZoneInfo(config.digest.timezone))]
    return Runtime(
        config=config,
        store=store,
        library=library,
        sinks=(sinks or []) + default_sinks,
        telegram_enabled=telegram_enabled,
    )
