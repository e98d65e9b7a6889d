"""Memory a cycle freed goes back to the system (glibc's malloc_trim)."""

from __future__ import annotations

import asyncio
import platform
from pathlib import Path

import pytest

from monitor.core import memory
from monitor.pipeline import scheduler

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="needs glibc"
)


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


@glibc
def test_freed_heap_memory_is_returned():
    # 1 KB objects come from malloc's heap, not from mmap; the last one keeps the top of
    # the heap in use, so malloc cannot shrink it by itself when the rest is freed
    blocks = [bytes(1000) + bytes([n % 256]) for n in range(150_000)]
    pinned = blocks[-1]
    del blocks
    before = rss_mb()
    assert memory.give_back_free_memory()
    after = rss_mb()
    assert before - after > 60, (before, after)
    assert pinned


def test_the_service_gives_memory_back_after_each_cycle_even_a_failed_one(monkeypatch):
    calls = []

    async def failing_cycle(rt):
        calls.append("cycle")
        raise RuntimeError("feed store broke")

    monkeypatch.setattr(scheduler, "poll_cycle", failing_cycle)
    monkeypatch.setattr(scheduler, "give_back_free_memory", lambda: calls.append("trim"))
    with pytest.raises(RuntimeError):
        asyncio.run(scheduler._poll(object()))
    assert calls == ["cycle", "trim"]
