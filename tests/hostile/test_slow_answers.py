"""Finding 10 of issue 12: a slow answer must not make a duplicate.

python-telegram-bot gives up on an answer after 5 s by default; the message
was sent all the same, so the retry delivered it twice: 3 of 3 answers slower
than 5 s arrived twice. Sends now wait `[telegram] send_timeout_seconds`
(20 s) for the answer, and a send that still times out after its request went
out may have been delivered: it is retried, but only after a minute. Telegram
has no idempotency key, so a repeat happens only when an answer was truly lost.

The fake Bot API carries each message out at once and holds its answer back
(`delay_next`), so what it recorded is what a chat would have seen.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

import httpx
import pytest
from conftest import outbox_rows
from telegram.error import TimedOut
from test_telegram_delivery import FAST, TZ, article, make_runtime, queue_alert

from monitor.core.config import TelegramConfig
from monitor.core.timeutil import parse_iso
from monitor.delivery.ratelimit import RateLimiter, SendGate
from monitor.delivery.retrypolicy import MAYBE_DELIVERED_DELAY
from monitor.delivery.telegram import TelegramSink
from monitor.pipeline.cycle import deliver
from monitor.pipeline.runtime import Runtime

CHATS = ("1001", "1002", "1003")


def production_runtime(config, clock, fake, send_timeout: float | None = None) -> Runtime:
    """The sink as `monitor run` builds it, from the config's [telegram] section."""
    telegram = TelegramConfig(base_url=fake.base_url)
    if send_timeout is not None:
        telegram = replace(telegram, send_timeout_seconds=send_timeout)
    rt = make_runtime(replace(config, telegram=telegram), clock, fake)
    sink = TelegramSink.connect(
        fake.token,
        fake.base_url,
        SendGate(RateLimiter(FAST)),
        TZ,
        send_timeout=telegram.send_timeout_seconds,
    )
    return replace(rt, config=replace(rt.config, telegram=telegram), sinks=[sink])


async def drain_until_sent(rt: Runtime, clock, steps: int = 10) -> None:
    sink = rt.sinks[0]
    await sink.start()
    try:
        for _ in range(steps):
            await deliver(rt)
            pending = [r for r in outbox_rows(rt.store) if r["status"] == "pending"]
            if not pending:
                return
            clock.now = max(clock.now, min(parse_iso(r["next_attempt_at"]) for r in pending))
    finally:
        await sink.close()


def copies(fake) -> Counter:
    return Counter(str(m["chat_id"]) for m in fake.sent_messages())


def test_answers_slower_than_five_seconds_arrive_once(config, clock, fake):
    rt = production_runtime(config, clock, fake)
    assert rt.config.telegram.send_timeout_seconds == 20  # the default
    for n, chat in enumerate(CHATS):
        queue_alert(rt, chat, article(n))
    fake.delay_next("sendMessage", 6, times=3)  # above PTB's 5 s, well below ours
    asyncio.run(drain_until_sent(rt, clock))
    print(f"3 answers 6 s late: copies per chat {dict(copies(fake))}")
    assert copies(fake) == dict.fromkeys(CHATS, 1)
    assert [r["status"] for r in outbox_rows(rt.store)] == ["sent"] * 3


def test_a_truly_lost_answer_is_retried_after_a_minute_not_at_once(config, clock, fake):
    rt = production_runtime(config, clock, fake, send_timeout=1)
    queue_alert(rt, CHATS[0], article(1))
    fake.delay_next("sendMessage", 2.5)  # longer than this sink waits: the answer is lost
    start = clock.now

    async def scenario() -> None:
        sink = rt.sinks[0]
        await sink.start()
        try:
            await deliver(rt)
            [row] = outbox_rows(rt.store)
            assert row["status"] == "pending" and "may have been delivered" in row["error"]
            assert parse_iso(row["next_attempt_at"]) == start + MAYBE_DELIVERED_DELAY
            clock.advance(seconds=59)
            await deliver(rt)  # not yet: the message may be in the chat already
            assert len(fake.sent_messages()) == 1
            clock.advance(seconds=1)
            await deliver(rt)
        finally:
            await sink.close()

    asyncio.run(scenario())
    assert [r["status"] for r in outbox_rows(rt.store)] == ["sent"]
    assert copies(fake) == {CHATS[0]: 2}  # the one repeat a lost answer allows


@pytest.mark.parametrize(
    ("cause", "maybe"),
    [
        (httpx.ReadTimeout("read"), True),
        (httpx.WriteTimeout("write"), True),
        (httpx.ConnectTimeout("connect"), False),
        (httpx.PoolTimeout("pool"), False),
    ],
)
def test_only_a_timeout_after_the_request_left_may_have_delivered(cause, maybe):
    sink = TelegramSink.connect("1:x", "http://127.0.0.1:9/bot", SendGate(), TZ)
    exc = TimedOut()
    exc.__cause__ = cause
    error = sink._delivery_error(exc)
    assert error.maybe_delivered is maybe and not error.permanent
