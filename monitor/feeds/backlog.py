"""Fetching runs ahead of storing, within a byte budget; results are taken in batches."""

from __future__ import annotations

import asyncio
import time


async def take_ready(ready: asyncio.Queue, most: int, linger: float) -> list:
    """The next item, and those ready with it or within `linger` seconds: at most `most`."""
    batch = [await ready.get()]
    until = time.monotonic() + linger
    while len(batch) < most:
        if not ready.empty():
            batch.append(ready.get_nowait())
            continue
        wait = until - time.monotonic()
        if wait <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(ready.get(), wait))
        except TimeoutError:
            break
    return batch


class Backlog:
    """Bytes fetched and not stored yet: fetching runs ahead of parsing and storing,
    up to a budget.

    Fetching waits on servers; parsing and storing wait on the CPU. If a request
    only started once the body before it had been dealt with, a dead server late
    in the list would start its timeout late and hold the whole cycle up. So
    requests start as fast as servers answer, but none starts while the bodies
    fetched and not yet stored add up to `budget` bytes (downloads in flight come
    on top: at most `max_concurrency` of them). Their parsed articles wait with
    them, so this bounds the cycle's memory too.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self._shrunk = asyncio.Event()

    async def room(self) -> None:
        while self.size >= self.budget:
            self._shrunk.clear()
            await self._shrunk.wait()

    def add(self, size: int) -> None:
        self.size += size

    def remove(self, size: int) -> None:
        self.size -= size
        self._shrunk.set()  # every waiter looks again
