"""Draining the outbox into sinks: the console, and Telegram when a token is set.

Every message goes through the outbox table; a row is marked sent only after
its sink accepted it (at-least-once; the unique dedupe keys make sure a
message is queued once). Failures are sorted by what they mean:
- transient (network, 5xx, 429): retried with backoff, honouring retry_after;
- permanent (Telegram rejects the message): marked failed with the reason;
- the chat is gone or blocked the bot: its subscriptions are paused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ..errors import DeliveryError
from ..models import OutboxMessage
from ..store import Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
MAX_RETRY_DELAY = timedelta(hours=1)


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


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff from 5 s, capped at an hour; Telegram's retry_after wins."""
    if retry_after is not None:
        return timedelta(seconds=max(retry_after, 1))
    return min(timedelta(seconds=5 * 2 ** min(attempts, 12)), MAX_RETRY_DELAY)


async def drain_outbox(
    store: Store, sinks: Sequence[Sink], clock: Callable[[], datetime], limit: int = 500
) -> DrainReport:
    """Send every due pending message that some sink accepts."""
    report = DrainReport()
    for message in store.pending_outbox(clock(), limit=limit):
        sink = next((s for s in sinks if s.accepts(message.chat_id)), None)
        if sink is None:
            continue  # e.g. a Telegram chat while the bot is off: it waits in the outbox
        try:
            await sink.send(message)
        except DeliveryError as exc:
            _record_failure(store, message, exc, clock(), report)
            continue
        store.mark_sent(message.id, clock())
        report.sent += 1
    return report


def _record_failure(
    store: Store, message: OutboxMessage, exc: DeliveryError, now: datetime, report: DrainReport
) -> None:
    if exc.chat_gone:
        log.warning(
            "chat unreachable, pausing its subscriptions chat=%s error=%s", message.chat_id, exc
        )
        store.pause_chat(message.chat_id, now)
    if exc.permanent or exc.chat_gone or message.attempts + 1 >= MAX_ATTEMPTS:
        log.error(
            "message failed outbox_id=%d chat=%s kind=%s error=%s",
            message.id,
            message.chat_id,
            message.kind,
            exc,
        )
        store.mark_failed(message.id, str(exc), now)
        report.failed += 1
        return
    retry_at = now + retry_delay(message.attempts, exc.retry_after)
    log.warning(
        "message will be retried outbox_id=%d chat=%s at=%s error=%s",
        message.id,
        message.chat_id,
        retry_at.isoformat(),
        exc,
    )
    store.mark_retry(message.id, str(exc), retry_at, now)
    report.retried += 1
