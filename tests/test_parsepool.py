"""Parse workers: same results as parsing in-process; gone when their parent is killed."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ROOT, rss
from fakes.feed_server import FeedServer, Route
from test_worker import make_runtime

from monitor.feeds import parsepool
from monitor.pipeline.cycle import poll_cycle


def feeds_with_hits(server: FeedServer) -> list[str]:
    urls = []
    for i in range(12):
        items = [
            {"title": f"Feed {i}: Mexico curbs DEA immunity", "link": f"https://s{i}.test/0"},
            {"title": f"Sheinbaum visits Sonora, day {i}", "link": f"https://s{i}.test/1"},
            {"title": "Shared wire story about border trade talks", "link": "https://wire.test/1"},
        ] + [
            {"title": f"Item {j} of feed f{i}", "link": f"https://s{i}.test/{j}"}
            for j in range(2, 9)
        ]
        urls.append(server.set(f"/f{i}.xml", Route(body=rss(items), etag=f"e{i}")))
    return urls


def cycle_outcome(config, clock, monkeypatch, budget: float, workers: int = 2):
    monkeypatch.setattr(parsepool, "INLINE_BUDGET_SECONDS", budget)
    config = replace(config, poll=replace(config.poll, parse_workers=workers))
    out = io.StringIO()
    with FeedServer() as server:
        rt = make_runtime(config, clock, feeds_with_hits(server), out)
        report = asyncio.run(poll_cycle(rt))
    stored = sorted((a.url, a.title, a.source) for a in rt.store.articles_since(clock.now))
    hits = sorted(
        (h["url"], h["topic"], h["term"])
        for h in rt.store.hits_between(clock.now, clock.now.replace(year=2030))
    )
    return report, stored, hits, out.getvalue().count("ALERT")


@pytest.mark.timeout(60)
def test_workers_and_the_parse_thread_give_what_inline_parsing_gives(
    config, clock, monkeypatch, tmp_path
):
    inline = cycle_outcome(config, clock, monkeypatch, budget=1e9)
    pooled_db = replace(config.storage, path=tmp_path / "pooled.db")
    pooled = cycle_outcome(replace(config, storage=pooled_db), clock, monkeypatch, budget=0)
    threaded_db = replace(config.storage, path=tmp_path / "threaded.db")
    threaded = cycle_outcome(
        replace(config, storage=threaded_db), clock, monkeypatch, budget=0, workers=0
    )
    assert inline[0].articles_new == pooled[0].articles_new == 12 * 9 + 1
    assert threaded[0].articles_new == 12 * 9 + 1
    assert inline[1:] == pooled[1:] == threaded[1:]
    assert pooled[3] == 12  # one alert per DEA story


def test_by_default_feeds_are_parsed_on_a_thread_and_no_process_starts(config, clock):
    """`parse_workers = 0`: twenty feeds never polled (which would start workers at
    once) are parsed off the event loop, on the parse thread; no child process."""
    assert config.poll.parse_workers == 0
    seen_on: set[str] = set()
    original = parsepool.read_inline

    def spying(*args, **kwargs):
        seen_on.add(threading.current_thread().name)
        return original(*args, **kwargs)

    with FeedServer() as server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(parsepool, "read_inline", spying)
        urls = feeds_with_hits(server) + [
            server.set(f"/g{i}.xml", Route(body=rss([{"title": f"Story {i}"}]))) for i in range(10)
        ]
        rt = make_runtime(config, clock, urls, io.StringIO())
        before = children_of(os.getpid())
        report = asyncio.run(poll_cycle(rt))
        assert children_of(os.getpid()) <= before
    assert report.feeds_ok == 22 and report.articles_new == 12 * 9 + 1 + 10
    assert len(seen_on) == 1 and next(iter(seen_on)).startswith("parse")


SCRIPT = """
import asyncio, os, sys, time
from datetime import UTC, datetime
from monitor.core.models import Feed, FetchResult
from monitor.feeds.parsepool import ParsePool

async def main():
    pool = ParsePool(2, [], inline_budget=0)
    body = open(sys.argv[1], "rb").read()
    results = await asyncio.gather(*(
        pool.read(FetchResult(Feed(f"https://x.test/{i}"), 200, body), datetime.now(UTC))
        for i in range(4)
    ))
    print(sum(len(r.parsed.articles) for r in results), flush=True)
    time.sleep(60)  # killed here, workers alive

if __name__ == "__main__":  # spawned workers import this module: never run main twice
    asyncio.run(main())
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the workers")
def test_workers_exit_when_the_parent_is_killed(tmp_path):
    feed = tmp_path / "feed.xml"
    feed.write_bytes(
        rss([{"title": f"Story {i} here", "link": f"https://e.org/{i}"} for i in range(5)])
    )
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, str(script), str(feed)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert parent.stdout.readline().strip() == "20"
        workers = children_of(parent.pid)
        assert len(workers) >= 2  # the pool's processes (and multiprocessing's tracker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if running(pid)]
    finally:
        if parent.poll() is None:
            parent.kill()


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_many_feeds_never_polled_start_the_workers_with_the_first_body():
    """A first run or an OPML import parses every feed: no in-process warm-up then.
    Feeds polled before (validators, a body hash) or failing ones do not count."""
    from monitor.core.models import Feed

    fresh = [Feed(f"https://n.test/{i}") for i in range(parsepool.FRESH_FEEDS_FOR_WORKERS)]
    known = [
        Feed("https://k.test/1", etag='"x"'),
        Feed("https://k.test/2", last_modified="Fri, 20 Nov 2026 15:00:00 GMT"),
        Feed("https://k.test/3", content_hash="ab12"),
        Feed("https://k.test/4", failures=3),
    ]
    assert parsepool.inline_budget_for(fresh) == 0
    assert parsepool.inline_budget_for(fresh[1:] + known * 10) == parsepool.INLINE_BUDGET_SECONDS
    assert parsepool.inline_budget_for([]) == parsepool.INLINE_BUDGET_SECONDS


def test_workers_that_cannot_start_leave_the_cycle_reading_on_the_parse_thread(monkeypatch):
    """A machine where processes cannot be spawned (a sandbox, no /dev/shm) still parses:
    off the event loop, on the parse thread, from the first feed on."""
    from datetime import UTC, datetime

    from monitor.core.models import Feed, FetchResult

    def refuse(*args, **kwargs):
        raise OSError("cannot spawn here")

    monkeypatch.setattr(parsepool, "ProcessPoolExecutor", refuse)
    seen_on: list[str] = []
    original = parsepool.read_inline

    def spying(*args, **kwargs):
        seen_on.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(parsepool, "read_inline", spying)
    body = rss([{"title": f"Story {i} here", "link": f"https://e.org/{i}"} for i in range(3)])

    async def run():
        async with parsepool.ParsePool(1, [], inline_budget=0) as pool:
            return [
                await pool.read(
                    FetchResult(Feed(f"https://x.test/{i}"), 200, body), datetime.now(UTC)
                )
                for i in range(2)
            ]

    items = asyncio.run(run())
    assert [len(item.parsed.articles) for item in items] == [3, 3]
    assert len(seen_on) == 2 and all(name.startswith("parse") for name in seen_on)
