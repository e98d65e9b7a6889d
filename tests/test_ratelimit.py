"""The rate limiter's decisions, on a fake clock: Telegram's default limits, no waiting."""

from __future__ import annotations

import asyncio

import pytest

from monitor.delivery.ratelimit import Limits, RateLimiter, SendGate, is_group


def max_in_window(times: list[float], window: float) -> int:
    """The most starts inside any half-open window [t, t + window)."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class FakeTime:
    """A monotonic clock whose sleep advances it: a minute of limits runs in microseconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def test_private_chat_one_message_a_second_counted_from_the_end_of_the_last():
    limiter = RateLimiter()
    assert limiter.wait_time("42", 0.0) == 0
    flight = limiter.started("42", 0.0)
    assert limiter.wait_time("42", 0.1) > 0  # in flight: nothing else to this chat yet
    limiter.finished(flight, 0.25)  # a slow request: spacing starts when it ended
    assert limiter.wait_time("42", 0.5) == pytest.approx(0.75)
    assert limiter.wait_time("42", 1.25) == 0
    assert limiter.wait_time("43", 0.5) == 0  # another chat is not held up


def test_group_gets_at_most_twenty_a_minute():
    limiter = RateLimiter()
    now = 0.0
    starts = []
    for _ in range(25):
        now += limiter.wait_time("-100777", now)
        starts.append(now)
        limiter.finished(limiter.started("-100777", now), now)
    assert starts[:20] == [float(i) for i in range(20)]  # one a second while under the cap
    assert starts[20] == pytest.approx(60.0)  # the 21st waits until the first leaves the minute
    assert max_in_window(starts, 60.0) == 20
    assert is_group("-100777") and not is_group("42")


def test_thirty_a_second_overall():
    limiter = RateLimiter()
    waits, flights = [], []
    for chat in range(40):
        wait = limiter.wait_time(str(chat), 0.0)
        waits.append(wait)
        if wait == 0:
            flights.append(limiter.started(str(chat), 0.0))
    assert waits[:30] == [0.0] * 30
    assert all(w > 0 for w in waits[30:])  # all thirty still in flight
    for flight in flights:
        limiter.finished(flight, 0.2)  # they arrived somewhere between 0 and 0.2
    assert limiter.wait_time("99", 0.5) == pytest.approx(0.7)  # a second after the answers
    assert limiter.wait_time("99", 1.2) == 0


def test_retry_after_pauses_every_chat():
    limiter = RateLimiter()
    limiter.pause(7, now=10.0)
    assert limiter.wait_time("1", 10.0) == pytest.approx(7)
    assert limiter.wait_time("-2", 12.0) == pytest.approx(5)
    limiter.pause(1, now=12.0)  # a shorter pause never shortens the longer one
    assert limiter.wait_time("1", 16.9) == pytest.approx(0.1)
    assert limiter.wait_time("1", 17.0) == 0


def test_default_gate_spaces_a_burst_of_100_to_one_chat():
    fake = FakeTime()
    gate = SendGate(clock=fake, sleep=fake.sleep)
    starts = []

    async def burst():
        for _ in range(100):
            async with gate.slot("42"):
                starts.append(fake.now)
                fake.now += 0.05  # the request takes 50 ms

    asyncio.run(burst())
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 1.05 - 1e-9  # a second after the previous request ended
    assert max_in_window(starts, 1.0) == 1


def test_default_gate_keeps_many_chats_under_thirty_a_second():
    fake = FakeTime()
    gate = SendGate(clock=fake, sleep=fake.sleep)
    starts: list[float] = []

    async def send(chat: str) -> None:
        for _ in range(3):
            async with gate.slot(chat):
                starts.append(fake.now)

    async def burst():
        await asyncio.gather(*(send(str(chat)) for chat in range(100)))

    asyncio.run(burst())
    assert len(starts) == 300
    assert max_in_window(starts, 1.0) <= 30
    assert max(starts) >= 9.0  # 300 messages need at least ten seconds


def test_scaled_limits_keep_the_counts():
    fast = Limits().scaled(0.01)
    assert (fast.chat_interval, fast.group_window, fast.global_window) == (0.01, 0.6, 0.01)
    assert (fast.group_max, fast.global_max) == (20, 30)


def test_each_worker_takes_its_configured_share_of_the_overall_limit(config, fake, tmp_path):
    """[telegram] messages_per_second: with N workers on one PostgreSQL database, each
    takes 30 / N of Telegram's overall limit (docs/deploy.md); 30 unless set."""
    import tomllib
    from dataclasses import replace

    from monitor.cli.botmode import build_telegram_runtime, telegram_sink
    from monitor.core.config import TelegramConfig, parse_config
    from monitor.core.errors import ConfigError

    parsed = parse_config(tomllib.loads("[telegram]\nmessages_per_second = 15\n"), tmp_path / "c")
    assert parsed.telegram.messages_per_second == 15
    with pytest.raises(ConfigError, match="messages_per_second"):
        parse_config(tomllib.loads("[telegram]\nmessages_per_second = 0\n"), tmp_path / "c")
    for share, expected in ((None, 30), (10, 10)):
        telegram = TelegramConfig(base_url=fake.base_url)
        if share:
            telegram = replace(telegram, messages_per_second=share)
        rt = build_telegram_runtime(replace(config, telegram=telegram), fake.token)
        try:
            assert telegram_sink(rt).gate.limiter.limits.global_max == expected
        finally:
            rt.store.close()
