"""Reading fetched bodies: on a parse thread, or in worker processes once a cycle is big.

feedparser is pure Python: a 50-item feed costs 20-30 ms to parse and its
articles 2-3 ms to match. On the event loop that work would stall every
request in flight (and the bot's replies), so it never runs there for long.

- By default (`[poll] parse_workers = 0`) the service parses on a thread of its
  own, the store matching the new articles on its writer thread. One process
  is the least memory: a worker process is 53-58 MB more (its own interpreter,
  feedparser and the compiled matcher) and multiprocessing's resource tracker
  13 MB, more than half again the whole service at 2,000 feeds (108 MB). The
  CPU is the same; what a worker buys is wall time on a machine with a spare
  core, mostly in the first cycle (2,000 new feeds: 30 s instead of 45).
- With `parse_workers = N` the stage `parse | match` runs in N worker
  processes, and the main process keeps fetching and storing (a feed's
  articles, hits and ETag commit together, as ever). Then:
- Small cycles stay in-process: bodies are parsed inline until that has cost
  `inline_budget` seconds of CPU, and only then do the workers start. A cycle
  of 304s never starts them. A cycle with many feeds never stored before (the
  first run, an OPML import) will parse them all: its workers start with the
  first body (`inline_budget_for`).
- A body identical to the last one stored (same SHA-256, for feeds that send
  no ETag) is not parsed at all.
- Workers are spawned (they inherit no locks, sockets or database), ignore
  SIGINT (the parent decides when to stop), and exit by themselves if the
  parent dies, even by SIGKILL: they watch their parent's process id.
- Workers match every article of a feed never stored before (all of them are
  new); of a feed stored before, a few articles are new, and the store matches
  just those (matching all fifty again was work thrown away).
- In the service the workers outlive the cycle (`ParseWorkers`, kept on the
  Runtime): started once, with their compiled matcher, replaced when the
  watchlists change or one dies. `poll --once` has them for its one cycle.
- Spawned workers import the main module, so a script that runs a cycle must
  guard it with `if __name__ == "__main__":` (the CLI, pytest and the
  benchmarks do). Workers that cannot start leave the cycle reading on the
  parse thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.core.config import PollConfig
from monitor.core.models import Feed, FetchResult, FieldLimits, Hit, ParsedFeed
from monitor.feeds.parse import DEFAULT_LIMITS, parse_feed
from monitor.matching.library import compile_matcher
from monitor.matching.matcher import Matcher
from monitor.matching.watchlists import Watchlist
from monitor.text.titles import title_key

log = logging.getLogger(__name__)

INLINE_BUDGET_SECONDS = 0.5
FRESH_FEEDS_FOR_WORKERS = 20


@dataclass(frozen=True, slots=True)
class ReadFeed:
    """A fetched feed once read; `result.body` is dropped to free memory early."""

    result: FetchResult
    parsed: ParsedFeed | None = None  # None: failed, 304, or unchanged
    hits: tuple[Hit, ...] | None = None  # every article's hits, when a worker matched them
    content_hash: str | None = None
    unchanged: bool = False  # 200 with the same body as the last poll that was stored


def content_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def read_inline(
    result: FetchResult, now: datetime, limits: FieldLimits = DEFAULT_LIMITS
) -> ReadFeed:
    """Read one result in this process (no matching: the caller matches new articles only)."""
    if result.error or result.not_modified:
        return ReadFeed(result)
    digest = content_hash(result.body)
    if digest == result.feed.content_hash:
        return ReadFeed(replace(result, body=b""), content_hash=digest, unchanged=True)
    parsed = parse_feed(result, now, source_name=result.feed.name, limits=limits)
    return ReadFeed(replace(result, body=b""), parsed, None, digest)


def inline_budget_for(feeds: Sequence[Feed]) -> float:
    """How much parsing a cycle does in-process before its workers start.

    None of it when FRESH_FEEDS_FOR_WORKERS feeds have never been polled (no
    validators, no body hash, no failure): each one has a body to parse, and reading
    the first ones inline would stall fetching on the event loop and leave their
    matching to the store's thread.
    """
    fresh = sum(1 for f in feeds if not (f.etag or f.last_modified or f.content_hash or f.failures))
    return 0.0 if fresh >= FRESH_FEEDS_FOR_WORKERS else INLINE_BUDGET_SECONDS


class ParseWorkers:
    """Where feeds are parsed, for as long as the service runs: its parse thread (no
    worker processes), or parse worker processes that outlive a cycle.

    Starting a worker costs imports and compiling the matcher, 0.5 s of CPU or more, and
    a steady cycle parses a few feeds: paid every cycle, that start-up was most of the
    cycle's cost. So they start at the first feed that needs them and stay, with their
    compiled matcher, until the watchlists change (they are replaced then, and the new
    ones compile the new set), one dies (replaced at the next feed), or `close()`.
    """

    @classmethod
    def for_poll(cls, poll: PollConfig) -> ParseWorkers:
        """As many worker processes as `[poll] parse_workers` says (0: the parse thread)."""
        return cls(poll.parse_workers, poll.field_limits)

    def __init__(self, workers: int, limits: FieldLimits = DEFAULT_LIMITS) -> None:
        self.workers = workers  # 0: none, parse on the thread
        self.limits = limits
        self.watchlists: list[Watchlist] = []
        self.starts = 0  # how many times workers were started: once, in a steady service
        self.worked = False  # some worker has read a feed: they can run here
        self._executor: ProcessPoolExecutor | None = None
        self._thread: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._executor is not None

    @property
    def in_process(self) -> bool:
        """No worker processes: every feed is read on the parse thread."""
        return self.workers == 0

    def use(self, watchlists: Sequence[Watchlist]) -> None:
        """Match with these watchlists from now on: workers compiled for others go."""
        if list(watchlists) != self.watchlists:
            self.close()
            self.watchlists = list(watchlists)

    def pids(self) -> list[int]:
        """The workers' process ids (for tests and benchmarks)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    async def read(
        self, result: FetchResult, now: datetime, match: bool
    ) -> tuple[ParsedFeed, tuple[Hit, ...] | None]:
        """`_read_in_worker` on a worker. Workers found dead before the feed was handed
        over (killed while idle between cycles) are replaced and the feed sent again."""
        loop = asyncio.get_running_loop()
        try:
            future = self._start().submit(_read_in_worker, result, now, match)
        except BrokenProcessPool:
            self.close()
            future = self._start().submit(_read_in_worker, result, now, match)
        outcome = await asyncio.wrap_future(future, loop=loop)
        self.worked = True
        return outcome

    async def read_here(self, result: FetchResult, now: datetime) -> ReadFeed:
        """`read_inline` on the parse thread: off the event loop, which goes on fetching
        (the GIL passes between them every few milliseconds)."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="parse")
        future = self._thread.submit(read_inline, result, now, self.limits)
        return await asyncio.wrap_future(future, loop=asyncio.get_running_loop())

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._thread is not None:
            self._thread.shutdown(wait=True, cancel_futures=True)
            self._thread = None

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            log.info("starting %d parse workers", self.workers)
            self.starts += 1
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.watchlists, self.limits, os.getpid()),
            )
        return self._executor


class ParsePool:
    """`await pool.read(result, now)` for every fetched result; one pool per cycle,
    on long-lived `ParseWorkers` when given (else its own, closed with the pool)."""

    def __init__(
        self,
        workers: int,
        watchlists: Sequence[Watchlist],
        inline_budget: float | None = None,
        limits: FieldLimits = DEFAULT_LIMITS,
        shared: ParseWorkers | None = None,
    ) -> None:
        self.limits = limits
        self._own = shared is None
        self._workers = shared or ParseWorkers(workers, limits)
        self._workers.use(watchlists)
        self.inline_budget = INLINE_BUDGET_SECONDS if inline_budget is None else inline_budget
        if self._workers.running:  # already started: reading inline would only stall the loop
            self.inline_budget = 0.0
        self._inline_cpu = 0.0
        self._on_thread = self._workers.in_process  # or workers cannot start here

    async def __aenter__(self) -> ParsePool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self._workers.close()

    async def read(self, result: FetchResult, now: datetime) -> ReadFeed:
        if result.error or result.not_modified:
            return ReadFeed(result)
        if self._on_thread:
            return await self._workers.read_here(result, now)
        if self._inline_cpu < self.inline_budget:
            started = time.process_time()
            item = read_inline(result, now, self.limits)
            self._inline_cpu += time.process_time() - started
            return item
        digest = content_hash(result.body)
        if digest == result.feed.content_hash:
            return ReadFeed(replace(result, body=b""), content_hash=digest, unchanged=True)
        # a feed stored before has a few new articles among many seen ones: the store
        # matches just the new ones; a new feed's are all new, matched here in parallel
        match = not result.feed.polled
        try:
            parsed, hits = await self._workers.read(result, now, match)
        except Exception as exc:
            return await self._read_after_failure(result, now, exc)
        return ReadFeed(replace(result, body=b""), parsed, hits, digest)

    async def _read_after_failure(
        self, result: FetchResult, now: datetime, exc: Exception
    ) -> ReadFeed:
        """Workers that never worked (they cannot start here): read on the parse thread
        from now on. Workers that worked, then died on this feed (killed, out of memory):
        the feed fails and the next one gets fresh workers."""
        self._workers.close()
        if not self._workers.worked:
            log.warning("parse workers unavailable, reading on the parse thread: %r", exc)
            self._on_thread = True
            return await self._workers.read_here(result, now)
        log.error("parse worker died feed=%s error=%r", result.feed.url, exc)
        error = f"parser failed: {exc.__class__.__name__}"
        return ReadFeed(
            replace(result, body=b""), ParsedFeed(result.feed.url, None, (), error=error)
        )


# -- in the worker processes ----------------------------------------------------------------
_matcher: Matcher | None = None
_limits: FieldLimits = DEFAULT_LIMITS


def _start_worker(watchlists: list[Watchlist], limits: FieldLimits, parent_pid: int) -> None:
    global _matcher, _limits
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _matcher = compile_matcher(watchlists)
    _limits = limits
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(0)


def _read_in_worker(
    result: FetchResult, now: datetime, match: bool = True
) -> tuple[ParsedFeed, tuple[Hit, ...] | None]:
    """parse | match, and fold the titles for the store's deduplication while here.
    Without `match`, no hits (None): the store matches the articles that are new."""
    parsed = parse_feed(result, now, source_name=result.feed.name, limits=_limits)
    parsed = replace(parsed, title_keys=tuple(title_key(a.title) for a in parsed.articles))
    if not match:
        return parsed, None
    matcher = _matcher or Matcher([])
    return parsed, tuple(hit for article in parsed.articles for hit in matcher.match(article))
