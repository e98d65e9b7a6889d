"""Telegram's flood limits, as decisions made from the times we are given.

Telegram's Bots FAQ: about one message a second to one chat, at most 20 a
minute to one group, about 30 a second overall; a 429 answer carries
`retry_after`, which we honour for the whole bot (Telegram does not say which
limit tripped). `RateLimiter` only decides (how long until the next message
to this chat may start) from the times passed in, so tests drive it with a
fake clock; `SendGate` adds the waiting, one message in flight per chat, so a
chat's messages keep their order and the spacing is measured from the end of
the previous request: what Telegram sees arriving never bunches up, whatever
the network latency did.
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


class RateLimiter:
    """Pure bookkeeping: `wait_time` decides, `started`/`finished` record, `pause` obeys a 429."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._last: dict[str, float] = {}  # chat -> end (or start, while in flight) of its last
        self._groups: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._paused_until = float("-inf")

    def wait_time(self, chat_id: str, now: float) -> float:
        """Seconds until a message to `chat_id` may start; 0 means now."""
        limits = self.limits
        waits = [self._paused_until - now]
        last = self._last.get(chat_id)
        if last is not None:
            waits.append(last + limits.chat_interval - now)
        group = self._groups.get(chat_id)
        if group is not None:
            _forget_before(group, now - limits.group_window)
            if len(group) >= limits.group_max:
                waits.append(group[-limits.group_max] + limits.group_window - now)
        _forget_before(self._all, now - limits.global_window)
        if len(self._all) >= limits.global_max:
            waits.append(self._all[-limits.global_max] + limits.global_window - now)
        return max(0.0, *waits)

    def started(self, chat_id: str, now: float) -> None:
        self._last[chat_id] = now
        self._all.append(now)
        if is_group(chat_id):
            self._groups.setdefault(chat_id, deque()).append(now)

    def finished(self, chat_id: str, now: float) -> None:
        """The request ended: the chat's spacing counts from here."""
        self._last[chat_id] = max(self._last.get(chat_id, now), now)
        group = self._groups.get(chat_id)
        if group:
            group[-1] = max(group[-1], now)

    def pause(self, seconds: float, now: float) -> None:
        """Telegram said 429 retry_after: nothing goes to anyone before then."""
        self._paused_until = max(self._paused_until, now + seconds)


def _forget_before(times: deque[float], cutoff: float) -> None:
    while times and times[0] <= cutoff:
        times.popleft()


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
            self.limiter.started(chat_id, self.clock())
            try:
                yield
            finally:
                self.limiter.finished(chat_id, self.clock())
