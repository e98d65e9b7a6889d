"""Telegram's flood limits, as decisions made from the times we are given.

Telegram's Bots FAQ: about one message a second to one chat, at most 20 a
minute to one group, about 30 a second overall; a 429 answer carries
`retry_after`, which we honour for the whole bot (Telegram does not say which
limit tripped). `RateLimiter` only decides (how long until the next message
to this chat may start) from the times passed in, so tests drive it with a
fake clock; `SendGate` adds the waiting, with one message in flight per chat so
a chat's messages keep their order. Every limit counts from when a request
*ended*, not when it started: what Telegram sees arriving never bunches up,
whatever the network latency did (measured against the fake Bot API server, a
burst counted from starts broke the global limit by a fifth).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    chat_interval: float = 1.0  # seconds between two messages to one chat
    group_max: int = 20  # messages to one group ...
    group_window: float = 60.0  # ... per this many seconds
    global_max: int = 30  # messages to everyone ...
    global_window: float = 1.0  # ... per this many seconds

    def scaled(self, factor: float) -> Limits:
        """The same limits on a faster clock: a test burst keeps the shape, not the duration."""
        return Limits(
            chat_interval=self.chat_interval * factor,
            group_max=self.group_max,
            group_window=self.group_window * factor,
            global_max=self.global_max,
            global_window=self.global_window * factor,
        )


def is_group(chat_id: str) -> bool:
    """Groups, supergroups and channels have negative ids; private chats positive ones."""
    return chat_id.startswith("-")


@dataclass(slots=True)
class Flight:
    """One request: started, and ended once Telegram answered (None while in flight)."""

    chat_id: str
    start: float
    end: float | None = None


class _Window:
    """At most `size` requests per `span` seconds, counted from when each one *ended*.

    The next request may start only `span` after the size-th most recent one
    ended. A request reaches Telegram between its start and its end, so however
    the latency varies, no `span`-long stretch of arrivals holds more than `size`.
    """

    def __init__(self, size: int, span: float) -> None:
        self.size = size
        self.span = span
        self.flights: deque[Flight] = deque()

    def wait(self, now: float) -> float:
        while self.flights and (end := self.flights[0].end) is not None and end <= now - self.span:
            self.flights.popleft()
        if len(self.flights) < self.size:
            return 0.0
        end = self.flights[-self.size].end
        if end is None:  # still in flight: look again shortly
            return max(self.span / self.size, 0.001)
        return end + self.span - now


class RateLimiter:
    """Pure bookkeeping: `wait_time` decides, `started`/`finished` record, `pause` obeys a 429."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._chats: dict[str, _Window] = {}
        self._groups: dict[str, _Window] = {}
        self._all = _Window(self.limits.global_max, self.limits.global_window)
        self._paused_until = float("-inf")

    def wait_time(self, chat_id: str, now: float) -> float:
        """Seconds until a message to `chat_id` may start; 0 means now."""
        waits = [self._paused_until - now, self._all.wait(now)]
        for windows in (self._chats, self._groups):
            if chat_id in windows:
                waits.append(windows[chat_id].wait(now))
        return max(0.0, *waits)

    def started(self, chat_id: str, now: float) -> Flight:
        flight = Flight(chat_id, now)
        limits = self.limits
        windows = [self._all, self._chats.setdefault(chat_id, _Window(1, limits.chat_interval))]
        if is_group(chat_id):
            windows.append(
                self._groups.setdefault(chat_id, _Window(limits.group_max, limits.group_window))
            )
        for window in windows:
            window.flights.append(flight)
        return flight

    def finished(self, flight: Flight, now: float) -> None:
        """Telegram answered (or the request failed): the windows count from here."""
        flight.end = now

    def pause(self, seconds: float, now: float) -> None:
        """Telegram said 429 retry_after: nothing goes to anyone before then."""
        self._paused_until = max(self._paused_until, now + seconds)


class SendGate:
    """The limiter plus the waiting, shared by the outbox sender and the bot's replies."""

    def __init__(
        self,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.limiter = limiter or RateLimiter()
        self.clock = clock
        self.sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}

    def ready_in(self, chat_id: str) -> float:
        return self.limiter.wait_time(chat_id, self.clock())

    def pause(self, seconds: float) -> None:
        self.limiter.pause(seconds, self.clock())

    @asynccontextmanager
    async def slot(self, chat_id: str) -> AsyncIterator[None]:
        """Wait for this chat's turn, then hold it while one request is in flight."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            while (delay := self.limiter.wait_time(chat_id, self.clock())) > 0:
                await self.sleep(delay)
            flight = self.limiter.started(chat_id, self.clock())
            try:
                yield
            finally:
                self.limiter.finished(flight, self.clock())
