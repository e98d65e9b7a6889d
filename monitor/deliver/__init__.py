"""Draining the outbox into sinks: the console, and Telegram when a token is set.

Every message goes through the outbox table; a row is marked sent only after
its sink accepted it (at-least-once; the unique dedupe keys make sure a
message is queued once). Failures are sorted by what they mean:
- transient (network, 5xx, 429): retried with backoff, honouring retry_after;
- permanent (Telegram rejects the message): marked failed with the reason;
- the chat is gone or blocked the bot: its subscriptions are paused and its
  other pending messages given up, not retried forever.
A chat's messages go in queue order: one waiting for a retry holds back the
ones behind it. Chats are drained in parallel, each at the pace its sink's rate
limit allows (`ready_in`), so a burst to one chat never delays the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ..errors import DeliveryError
from ..models import OutboxMessage
from ..store import Store
from .retrypolicy import decide_retry

log = logging.getLogger(__name__)


class Sink(Protocol):
    name: str

    def accepts(self, chat_id: str) -> bool: ...

    async def send(self, message: OutboxMessage) -> None:
        """Deliver one message or raise DeliveryError."""


@dataclass(slots=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(slots=True)
class DrainState:
    """Shared by every drain of one worker (after a poll, the periodic drain, a /digest).

    A chat being sent to by one drain is skipped by the others, so drains may
    overlap without sending a row twice, and a burst to one chat (one message a
    second) never holds up the other chats.
    """

    busy: set[str] = field(default_factory=set)
    budget_seconds: float | None = None  # a drain stops waiting for rate limits after this
    stopping: bool = False
    active: int = 0


async def drain_outbox(
    store: Store,
    sinks: Sequence[Sink],
    clock: Callable[[], datetime],
    limit: int = 500,
    state: DrainState | None = None,
) -> DrainReport:
    """Send every due pending message that some sink accepts: chats in parallel, each in order."""
    state = state or DrainState()
    report = DrainReport()
    deadline = None if state.budget_seconds is None else time.monotonic() + state.budget_seconds
    claimed: list[tuple[str, Sink]] = []
    for chat_id in store.outbox_due_chats(clock()):
        sink = next((s for s in sinks if s.accepts(chat_id)), None)
        if sink is None or chat_id in state.busy:
            continue  # e.g. a Telegram chat while the bot is off: it waits in the outbox
        claimed.append((chat_id, sink))
        state.busy.add(chat_id)
    state.active += 1
    try:
        budget = _Budget(limit, deadline, state)
        await asyncio.gather(
            *(_drain_chat(store, sink, chat_id, clock, budget, report) for chat_id, sink in claimed)
        )
    finally:
        state.busy.difference_update(chat_id for chat_id, _ in claimed)
        state.active -= 1
    return report


@dataclass(slots=True)
class _Budget:
    messages: int
    deadline: float | None
    state: DrainState


async def _drain_chat(
    store: Store,
    sink: Sink,
    chat_id: str,
    clock: Callable[[], datetime],
    budget: _Budget,
    report: DrainReport,
) -> None:
    """One chat's due messages in queue order; a retry holds back the ones behind it."""
    while batch := store.pending_outbox(clock(), limit=20, chat_id=chat_id):
        for message in batch:
            if budget.messages <= 0 or not await _wait_turn(sink, chat_id, budget):
                return
            budget.messages -= 1
            try:
                await sink.send(message)
            except DeliveryError as exc:
                now = clock()
                retry_at = _record_failure(store, message, exc, now, report)
                if exc.chat_gone:
                    store.fail_pending(chat_id, f"chat unreachable: {exc}", now)
                    return
                if retry_at is not None:
                    store.defer_outbox(chat_id, retry_at)
                    return
                continue
            store.mark_sent(message.id, clock())
            report.sent += 1


async def _wait_turn(sink: Sink, chat_id: str, budget: _Budget) -> bool:
    """Wait until the sink's rate limit lets this chat go; False to stop for now (stopping,
    or the wait would run past the drain's budget: the next drain carries on)."""
    ready_in = getattr(sink, "ready_in", None)  # rate-limited sinks say how long to wait
    while True:
        if budget.state.stopping:
            return False
        delay = ready_in(chat_id) if ready_in else 0.0
        if delay <= 0:
            return True
        if budget.deadline is not None and time.monotonic() + delay > budget.deadline:
            return False
        await asyncio.sleep(min(delay, 0.5))


def _record_failure(
    store: Store, message: OutboxMessage, exc: DeliveryError, now: datetime, report: DrainReport
) -> datetime | None:
    """Mark the row failed or due again; returns when it will be retried, if it will."""
    if exc.chat_gone:
        log.warning(
            "chat unreachable, pausing its subscriptions chat=%s error=%s", message.chat_id, exc
        )
        store.pause_chat(message.chat_id, now)
    decision = decide_retry(message, exc, now)
    if decision.at is None:  # fail for good (retrypolicy says when)
        log.error(
            "message failed outbox_id=%d chat=%s kind=%s error=%s",
            message.id,
            message.chat_id,
            message.kind,
            exc,
        )
        store.mark_failed(message.id, str(exc), now)
        report.failed += 1
        return None
    log.warning(
        "message will be retried outbox_id=%d chat=%s at=%s error=%s",
        message.id,
        message.chat_id,
        decision.at.isoformat(),
        exc,
    )
    mark = store.mark_later if decision.action == "later" else store.mark_retry
    mark(message.id, str(exc), decision.at, now)
    report.retried += 1
    return decision.at
