"""Draining the outbox into sinks: the console, and Telegram when a token is set.

Every message goes through the outbox table; a row is marked sent only after
its sink accepted it (the unique dedupe keys make sure a message is queued
once, and the claims that a message is sent once per claim, see `Store.claim_next`).
Failures are sorted by what they mean (retrypolicy.py):
- 429: waited out (retry_after), not counted as an attempt;
- transient (network, 5xx): retried with backoff, 5 s doubling to 5 minutes, forever;
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
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from monitor.core.errors import DeliveryError, StoreError
from monitor.core.models import OutboxMessage
from monitor.delivery.retrypolicy import backoff, decide_retry
from monitor.storage import Store

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
    errors: int = 0  # chats whose drain stopped on an unexpected error (logged)


CLAIM_SECONDS = 120  # a sender's lease on a chat and on its message in flight


def sender_name() -> str:
    """Names one drain in the outbox's claims: host, process, and a random part, so two
    drains are never taken for one, even in the same process."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def dead_local_senders(senders: set[str]) -> list[str]:
    """The senders of this host whose process is gone (killed, crashed): their claims
    need not run out before a restarted worker carries on. A sender of another host, or
    one whose process may be alive, is left to its lease."""
    host = socket.gethostname()
    dead = []
    for sender in senders:
        name, _, rest = sender.partition(":")
        pid_text = rest.partition(":")[0]
        if name != host or not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            dead.append(sender)
        except PermissionError:
            pass  # alive, someone else's
    return dead


def _expire_dead_senders(store: Store, now: datetime) -> None:
    for sender in dead_local_senders(store.outbox_senders()):
        log.warning("sender %s is gone: its messages in flight may be sent again", sender)
        store.expire_sender(sender, now)


@dataclass(slots=True)
class DrainState:
    """Shared by every drain of one worker (after a poll, the periodic drain, a /digest).

    Which drain sends to a chat is decided in the database, by lease (`claim_chat`), so
    drains may overlap, in this process or in another one, without sending a row twice;
    a burst to one chat (one message a second) never holds up the other chats.
    """

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
    """Send every due message that some sink accepts: chats in parallel, each in order.

    Database calls run in worker threads (each with its own connection), so a poll
    cycle holding the write lock makes a drain wait, never the event loop."""
    state = state or DrainState()
    report = DrainReport()
    deadline = None if state.budget_seconds is None else time.monotonic() + state.budget_seconds
    sender = sender_name()
    state.active += 1
    try:
        await asyncio.to_thread(store.release_held, clock())
        await asyncio.to_thread(_expire_dead_senders, store, clock())
        claimed: list[tuple[str, Sink]] = []
        for chat_id in await asyncio.to_thread(store.outbox_due_chats, clock()):
            sink = next((s for s in sinks if s.accepts(chat_id)), None)
            if sink is None:
                continue  # e.g. a Telegram chat while the bot is off: it waits in the outbox
            now = clock()
            lease = now + timedelta(seconds=CLAIM_SECONDS)
            if await asyncio.to_thread(store.claim_chat, chat_id, sender, now, lease):
                claimed.append((chat_id, sink))  # else another drain is sending to it
        budget = _Budget(limit, deadline, state)
        await asyncio.gather(
            *(
                _supervised(_Chat(store, sink, chat_id, sender, clock), budget, report)
                for chat_id, sink in claimed
            )
        )
    finally:
        state.active -= 1
    return report


@dataclass(slots=True)
class _Budget:
    messages: int
    deadline: float | None
    state: DrainState


@dataclass(slots=True)
class _Chat:
    store: Store
    sink: Sink
    chat_id: str
    sender: str
    clock: Callable[[], datetime]

    async def call(self, method: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(method, *args)


async def _supervised(chat: _Chat, budget: _Budget, report: DrainReport) -> None:
    """One chat's drain, whose failure stays that chat's: it is logged and counted, its
    lease is given back, and the other chats' drains go on."""
    try:
        await _drain_chat(chat, budget, report)
    except Exception:
        report.errors += 1
        log.exception("drain of one chat stopped chat=%s", chat.chat_id)
    finally:
        try:
            await chat.call(chat.store.release_chat, chat.chat_id, chat.sender)
        except StoreError as exc:  # the lease runs out by itself
            log.warning("could not release chat=%s: %s", chat.chat_id, exc)


async def _drain_chat(chat: _Chat, budget: _Budget, report: DrainReport) -> None:
    """One chat's due messages in queue order; a retry holds back the ones behind it."""
    store = chat.store
    while budget.messages > 0 and await _wait_turn(chat.sink, chat.chat_id, budget):
        now = chat.clock()
        lease = now + timedelta(seconds=CLAIM_SECONDS)
        message = await chat.call(store.claim_next, chat.chat_id, chat.sender, now, lease)
        if message is None:
            return  # nothing due, or another drain took the chat over
        budget.messages -= 1
        try:
            await chat.sink.send(message)
        except DeliveryError as exc:
            await chat.call(_record_failure, store, chat.sender, message, exc, chat.clock(), report)
            continue
        except Exception as exc:
            # whether it went out is unknown: it goes back in the queue, and the error is
            # this chat's alone
            error = f"{type(exc).__name__}: {exc}"
            retry_at = chat.clock() + backoff(message.attempts)
            await chat.call(store.finish_retry, message.id, chat.sender, error, retry_at)
            raise
        if not await chat.call(store.finish_sent, message.id, chat.sender, chat.clock()):
            log.warning(
                "sent, but the claim had run out: another sender may repeat it outbox_id=%d",
                message.id,
            )
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
    store: Store,
    sender: str,
    message: OutboxMessage,
    exc: DeliveryError,
    now: datetime,
    report: DrainReport,
) -> None:
    """Mark the row failed or due again (runs in a worker thread)."""
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
        store.finish_failed(message.id, sender, str(exc))
        report.failed += 1
        if exc.chat_gone:
            store.fail_queue(message.chat_id, f"chat unreachable: {exc}")
        return
    log.warning(
        "message will be retried outbox_id=%d chat=%s at=%s error=%s",
        message.id,
        message.chat_id,
        decision.at.isoformat(),
        exc,
    )
    later = decision.action == "later"  # a 429: not an attempt
    store.finish_retry(message.id, sender, str(exc), decision.at, counts_as_attempt=not later)
    report.retried += 1
