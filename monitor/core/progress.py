"""How far a long poll cycle has come: a counter on a terminal, a summary line in logs.

A first poll of hundreds of feeds takes a minute or more; without a word the operator
cannot tell a working cycle from a stuck one. Small cycles (the steady state) say
nothing extra: their summary line at the end is enough.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger(__name__)

SHOW_FROM_FEEDS = 50  # smaller cycles end before anyone wonders
LOG_EVERY_SECONDS = 10.0


class Progress:
    """`done(feeds, articles)` as batches are stored; `close()` at the end of the cycle."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = LOG_EVERY_SECONDS,
    ) -> None:
        self.total, self.clock, self.every = total, clock, every
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = total >= SHOW_FROM_FEEDS
        self.terminal = self.enabled and self.stream.isatty()
        self.feeds = self.articles = 0
        self.started = self.last_log = clock()

    def done(self, feeds: int, articles: int) -> None:
        self.feeds += feeds
        self.articles += articles
        if not self.enabled:
            return
        if self.terminal:  # one line, rewritten in place
            self.stream.write(f"\r{self.feeds}/{self.total} feeds, {self.articles} new articles")
            self.stream.flush()
        elif self.clock() - self.last_log >= self.every:
            self.last_log = self.clock()
            log.info(
                "progress %d/%d feeds, %d new articles, %.0fs",
                self.feeds,
                self.total,
                self.articles,
                self.last_log - self.started,
            )

    def close(self) -> None:
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()
