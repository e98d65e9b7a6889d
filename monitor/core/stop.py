"""Stopping gracefully: SIGTERM/SIGINT request a stop, the work in flight notices.

The poll cycle waits on the request and cancels its fetching between feeds
(worker.py), so the transaction in flight always completes; `monitor run`
and `monitor poll --once` both stop within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignal:
    """A stop request, like asyncio.Event but usable from any event loop (an asyncio.Event
    binds to the first loop that waits on it; tests and the CLI run several loops)."""

    def __init__(self) -> None:
        self._requested = False
        self._waiters: set[asyncio.Future] = set()

    def set(self) -> None:
        """Request a stop; call it from the loop's thread (a signal handler does)."""
        self._requested = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def is_set(self) -> bool:
        return self._requested

    async def wait(self) -> None:
        if self._requested:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)


@contextlib.contextmanager
def stop_on_signals(stop: StopSignal) -> Iterator[list[str]]:
    """While inside, SIGTERM and SIGINT set `stop`; yields the names of signals received."""
    loop = asyncio.get_running_loop()
    received: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        log.warning("%s received: stopping after the feed in flight", sig.name)
        received.append(sig.name)
        stop.set()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield received
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
