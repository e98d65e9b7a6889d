"""What the running service keeps from one cycle to the next (`monitor run`).

A steady cycle fetches a few hundred feeds that mostly answer 304 and parses a
few: its fixed costs were most of it. Starting two parse workers (imports, then
compiling the matcher) and a TCP (and TLS) handshake per request were paid again
every cycle. Here they are paid once: the workers stay, with their matcher, and
so do the idle connections, one small pool per host. `monitor poll --once` runs
one cycle and has nothing to keep: its cycle makes its own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from monitor.feeds.fetch import Connections
from monitor.feeds.parsepool import ParseWorkers
from monitor.pipeline.runtime import Runtime

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def service_resources(rt: Runtime) -> AsyncIterator[Runtime]:
    """Long-lived workers and connections on `rt` while inside; stopped on the way out
    (the caller waits for the cycle in flight first)."""
    poll = rt.config.poll
    rt.workers = ParseWorkers.for_poll(poll)
    rt.connections = Connections(poll)
    try:
        yield rt
    finally:
        workers, connections = rt.workers, rt.connections
        rt.workers = rt.connections = None
        workers.close()  # idle between cycles: they exit at once
        await connections.aclose()
        log.debug("parse workers and connections closed")
