"""Finding 8 of issue 12: retries never give up on a live chat.

The real python-telegram-bot sends to the fake Bot API; the drain runs on a
fixed clock that each step moves to the row's next attempt, so "how long did
the chat wait" is measured on that clock (what an operator would see in
`next_attempt_at`), not by sleeping.
- 12 answers of 429 (retry_after = 1) failed the alert for good after 58 s;
- after 6 × 429 and one 500 the chat waited 320 s;
- a long 5xx outage exhausted MAX_ATTEMPTS the same way.
Only a permanent answer (403, 400 chat not found, a bad message) fails a row.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from conftest import outbox_rows
from test_telegram_delivery import CHAT, article, make_runtime, queue_alert

from monitor.core.timeutil import parse_iso
from monitor.pipeline.cycle import deliver
from monitor.pipeline.runtime import Runtime

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def drain_until_settled(rt: Runtime, clock, steps: int = 60) -> tuple[str, float]:
    """Drain, then move the clock to the row's next attempt, until it is sent or failed;
    returns its status and how long (on the clock) that took."""
    sink = rt.sinks[0]
    await sink.start()
    start = clock.now
    try:
        for _ in range(steps):
            await deliver(rt)
            [row] = outbox_rows(rt.store)
            if row["status"] != "pending":
                return row["status"], (clock.now - start).total_seconds()
            due = parse_iso(row["next_attempt_at"])
            if due is not None and due > clock.now:
                clock.now = due
    finally:
        await sink.close()
    return "pending", (clock.now - start).total_seconds()


def settle(rt: Runtime, clock) -> tuple[str, float, dict]:
    status, waited = asyncio.run(drain_until_settled(rt, clock))
    return status, waited, outbox_rows(rt.store)[0]


def test_twelve_429s_are_waited_out_and_the_alert_is_sent(config, clock, fake):
    rt = make_runtime(config, clock, fake)
    queue_alert(rt, CHAT, article(1))
    fake.fail_next("sendMessage", 429, retry_after=1, times=12)
    status, waited, row = settle(rt, clock)
    print(f"12 x 429: {status} after {waited:g} s, attempts={row['attempts']}")
    assert status == "sent"
    assert row["attempts"] == 1  # the send that went through: a 429 is not an attempt
    assert waited <= 12 * 1 + 1  # retry_after each time, no growth
    assert len(fake.sent_messages(CHAT)) == 1


def test_a_500_after_six_429s_waits_seconds_not_minutes(config, clock, fake):
    rt = make_runtime(config, clock, fake)
    queue_alert(rt, CHAT, article(1))
    fake.fail_next("sendMessage", 429, retry_after=1, times=6)
    fake.fail_next("sendMessage", 500)
    status, waited, row = settle(rt, clock)
    wait_after_500 = waited - 6  # the six retry_after waits of 1 s
    print(f"6 x 429 + 500: {status}; waited {wait_after_500:g} s after the 500")
    assert status == "sent"
    assert wait_after_500 <= 5


def test_a_long_outage_backs_off_to_five_minutes_and_never_drops(config, clock, fake):
    rt = make_runtime(config, clock, fake)
    queue_alert(rt, CHAT, article(1))
    fake.fail_next("sendMessage", 502, times=30)  # 30 failures: hours of outage
    status, waited, row = settle(rt, clock)
    print(f"30 x 502: {status} after {waited:g} s, attempts={row['attempts']}")
    assert status == "sent" and row["attempts"] == 31  # 30 failures and the send
    # 5, 10, ..., 160, then 300 s each: the wait is capped, never grows without bound
    assert waited == sum(min(5 * 2**k, 300) for k in range(30))
    assert len(fake.sent_messages(CHAT)) == 1


@pytest.mark.parametrize(
    ("status", "description"),
    [(403, None), (400, "Bad Request: chat not found"), (400, "Bad Request: can't parse")],
)
def test_only_a_permanent_answer_fails_the_row(config, clock, fake, status, description):
    rt = make_runtime(config, clock, fake)
    queue_alert(rt, CHAT, article(1))
    fake.fail_next("sendMessage", status, description, times=100)
    result, waited, row = settle(rt, clock)
    assert result == "failed" and waited == 0 and row["attempts"] == 1
    clock.advance(hours=1)
    asyncio.run(drain_until_settled(rt, clock, steps=2))
    assert len(fake.calls_to("sendMessage")) == 1  # tried once


def test_retry_after_is_honoured_on_the_clock(config, clock, fake):
    rt = make_runtime(config, clock, fake)
    queue_alert(rt, CHAT, article(1))
    fake.fail_next("sendMessage", 429, retry_after=7)
    sink = rt.sinks[0]

    async def once():
        await sink.start()
        try:
            await deliver(rt)
        finally:
            await sink.close()

    asyncio.run(once())
    [row] = outbox_rows(rt.store)
    assert row["status"] == "pending" and row["attempts"] == 0
    assert parse_iso(row["next_attempt_at"]) == clock.now + timedelta(seconds=7)
