"""Several `monitor run` on one PostgreSQL database: who polls which feed, who runs the bot.

No coordinator: the database decides. Each cycle a worker leases a quarter of its
share of the due feeds (the active feeds divided by the live workers, by heartbeat),
polls them, and claims again, whatever is still due and unclaimed (a dead worker's
feeds too, once its leases ran out), until nothing is left. Each worker beats every HEARTBEAT_SECONDS;
the one holding the bot lock runs the Telegram bot, the digests and housekeeping,
and the others try for the lock as often, so a dead holder is replaced within
one interval. On SQLite none of this applies: one worker polls every due feed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from monitor.core.errors import StoreError
from monitor.core.models import Feed
from monitor.pipeline.runtime import Runtime

if TYPE_CHECKING:
    from monitor.storage.postgres import PgStore

log = logging.getLogger(__name__)
LEASE_MARGIN_SECONDS = 60  # a lease outlives the cycle deadline by this much (at most)
# the share of an interval a polled feed waits before it is due again: less than one,
# so a worker whose cycle comes a little early (jitter) still finds its feeds due
DUE_AFTER_INTERVALS = 0.8
# a worker claims its share in this many rounds: one that starts a moment before the
# others (and counts itself alone) takes a quarter of the feeds, not all of them, and a
# slow worker leaves the rest of its share to the faster ones
CLAIM_ROUNDS = 4


def heartbeat_seconds(rt: Runtime) -> float:
    """How often a worker beats and tries for the bot: a holder's death is noticed
    within an interval, and never less often than every 15 s."""
    return max(1.0, min(15.0, rt.config.poll.interval_seconds / 2))


def lease_seconds(rt: Runtime) -> float:
    """A cycle stops fetching at its deadline; its leases run a little longer."""
    deadline = rt.config.poll.cycle_deadline_seconds
    return deadline + min(LEASE_MARGIN_SECONDS, deadline)


def shared_store(rt: Runtime) -> PgStore | None:
    return cast("PgStore", rt.store) if rt.store.shared else None


def live_since(rt: Runtime, now: datetime) -> datetime:
    """A worker whose last beat is older than three beats is taken for dead."""
    return now - timedelta(seconds=3 * heartbeat_seconds(rt))


def claim_due_feeds(rt: Runtime, started: datetime, now: datetime | None = None) -> list[Feed]:
    """The feeds a cycle that `started` polls: on SQLite every due feed, at its first
    claim (`now` None); on PostgreSQL the next round of this worker's share of the due
    feeds nobody has taken (the cycle claims again, `now`, until none is left). None
    polled since the cycle started: a cycle longer than an interval would otherwise poll
    its first feeds again, and go on."""
    store = shared_store(rt)
    if store is None:
        return rt.store.feeds_due(started) if now is None else []
    now = started if now is None else now
    poll = rt.config.poll
    gap = now - timedelta(seconds=poll.interval_seconds * DUE_AFTER_INTERVALS)
    gap = min(gap, started - timedelta(seconds=1))  # times are stored to the second
    live = max(1, len(store.live_workers(now, live_since(rt, now))))
    share = max(1, math.ceil(store.active_feed_count() / live / CLAIM_ROUNDS))
    return store.claim_feeds(
        rt.worker_id,
        now,
        until=now + timedelta(seconds=lease_seconds(rt)),
        gap=gap,
        limit=share,
    )


def register(rt: Runtime) -> None:
    store = shared_store(rt)
    if store is not None:
        store.register_worker(rt.worker_id, socket.gethostname(), os.getpid(), rt.clock())


def unregister(rt: Runtime) -> None:
    store = shared_store(rt)
    if store is not None:
        store.stop_worker(rt.worker_id, rt.clock())


async def beat(rt: Runtime) -> bool:
    """One heartbeat, and a try for the bot lock; True when this worker holds the bot.
    A holder whose lock connection fails has lost the lock (the server frees it with
    the session): False. A failed heartbeat write is only that: it raises."""
    store = shared_store(rt)
    if store is None:
        return True
    try:
        holds = await asyncio.to_thread(store.try_hold_bot)
    except StoreError as exc:
        if not rt.leading:
            raise
        log.error("the bot lock's connection failed: %s", exc)
        return False
    await asyncio.to_thread(store.heartbeat, rt.worker_id, rt.clock(), holds)
    return holds
