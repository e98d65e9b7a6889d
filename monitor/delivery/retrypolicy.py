"""What to do with an outbox row whose send failed: pure, no I/O, `now` a parameter.

Three answers, by what Telegram meant (issue 12, finding 8):
- `later`: a 429 is Telegram saying "not now, in `retry_after` seconds". It
  is not an attempt and does not grow the backoff: 12 answers of 429 used to
  fail an alert for good, and after 6 × 429 one 500 made a chat wait 320 s.
- `retry`: a transient failure (network, timeout, 5xx) counts an attempt and
  backs off from 5 s, doubling, capped at 5 minutes, and never gives up: a
  long outage delays alerts, it must not drop them. A send that timed out
  after its request went out may have been delivered (Telegram has no
  idempotency key): its retry waits at least a minute (finding 10).
- `fail`: only a permanent answer (403, 400 such as chat not found, or a
  message Telegram will never take) fails the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from monitor.core.errors import DeliveryError
from monitor.core.models import OutboxMessage

FIRST_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(minutes=5)
MAYBE_DELIVERED_DELAY = timedelta(seconds=60)  # a late answer, or the message, shows up first
MIN_LATER = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """`fail` for good; `retry` at `at`, counting an attempt; `later` at `at`, not counting."""

    action: Literal["fail", "retry", "later"]
    at: datetime | None = None


def backoff(attempts: int) -> timedelta:
    """5 s after the first failure, doubling, at most 5 minutes."""
    return min(FIRST_DELAY * 2 ** min(attempts, 16), MAX_DELAY)


def decide_retry(message: OutboxMessage, error: DeliveryError, now: datetime) -> RetryDecision:
    """The fate of `message` after `error`, given the attempts it has already used."""
    if error.permanent or error.chat_gone:
        return RetryDecision("fail")
    if error.retry_after is not None:
        return RetryDecision("later", now + max(timedelta(seconds=error.retry_after), MIN_LATER))
    delay = backoff(message.attempts)
    if error.maybe_delivered:
        delay = max(delay, MAYBE_DELIVERED_DELAY)
    return RetryDecision("retry", now + delay)
