"""The retry policy, case by case (issue 12, finding 8): pure, on a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.errors import DeliveryError
from monitor.core.models import OutboxMessage
from monitor.delivery.retrypolicy import MAX_DELAY, backoff, decide_retry

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def row(attempts: int) -> OutboxMessage:
    return OutboxMessage(1, "424242", "alert", "alert:424242:a1", {}, attempts)


@pytest.mark.parametrize("attempts", [0, 5, 11, 12, 50, 10_000])
def test_a_429_is_later_whatever_the_attempts(attempts):
    decision = decide_retry(row(attempts), DeliveryError("flood", retry_after=3), NOW)
    assert decision.action == "later" and decision.at == NOW + timedelta(seconds=3)


def test_a_429_of_zero_seconds_still_waits_a_second():
    decision = decide_retry(row(0), DeliveryError("flood", retry_after=0), NOW)
    assert decision.at == NOW + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 5), (1, 10), (2, 20), (5, 160), (6, 300), (11, 300), (12, 300), (10_000, 300)],
)
def test_transient_errors_back_off_doubling_to_five_minutes_and_never_give_up(attempts, seconds):
    decision = decide_retry(row(attempts), DeliveryError("Telegram: NetworkError: 502"), NOW)
    assert decision.action == "retry" and decision.at == NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "error",
    [
        DeliveryError("Telegram: Forbidden: bot was blocked", chat_gone=True),
        DeliveryError("Telegram: Chat not found", chat_gone=True),
        DeliveryError("Telegram: can't parse entities", permanent=True),
    ],
)
def test_only_a_permanent_answer_fails(error):
    decision = decide_retry(row(0), error, NOW)
    assert decision.action == "fail" and decision.at is None


def test_backoff_is_capped_for_any_attempt_count():
    assert max(backoff(n) for n in range(200)) == MAX_DELAY
    assert [backoff(n).total_seconds() for n in range(4)] == [5, 10, 20, 40]


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 60), (3, 60), (4, 80), (9, 300)])
def test_a_send_that_may_have_been_delivered_waits_at_least_a_minute(attempts, seconds):
    error = DeliveryError("Telegram: no answer in time", maybe_delivered=True)
    decision = decide_retry(row(attempts), error, NOW)
    assert decision.action == "retry" and decision.at == NOW + timedelta(seconds=seconds)
