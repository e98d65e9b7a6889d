"""What `monitor run` keeps across cycles: parse workers, connections, the title index."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
from dataclasses import replace

import pytest
from conftest import SAMPLE_WATCHLIST, rss
from fakes.feed_server import FeedServer, Route
from test_parsepool import running
from test_worker import make_runtime

from monitor.core.models import Feed, FetchResult
from monitor.feeds import parsepool
from monitor.feeds.parsepool import ParsePool, ParseWorkers
from monitor.pipeline.cycle import poll_cycle
from monitor.pipeline.service import service_resources


def feed_items(feed: int, first: int, count: int = 6) -> bytes:
    return rss(
        [
            {
                "title": "Sheinbaum meets governors: "
                + " ".join(f"w{feed}x{n}y{k}" for k in range(4)),
                "link": f"https://f{feed}.test/{n}",
                "guid": f"f{feed}-{n}",
            }
            for n in range(first, first + count)
        ]
    )


def serve_feeds(server: FeedServer, count: int, version: int = 1) -> list[str]:
    return [
        server.set(f"/f{i}.xml", Route(body=feed_items(i, version * 100), etag=f"e{i}-{version}"))
        for i in range(count)
    ]


@pytest.mark.timeout(120)
def test_workers_outlive_cycles_and_are_replaced_when_the_watchlists_change(
    config, clock, sample_watchlists, monkeypatch
):
    """The second cycle reads on the first cycle's workers; a watchlist edit replaces
    them, and the new ones match with the new set."""
    monkeypatch.setattr(parsepool, "INLINE_BUDGET_SECONDS", 0)  # small feeds: workers anyway
    with FeedServer() as server:
        urls = serve_feeds(server, 4)
        poll = replace(config.poll, parse_workers=2)
        rt = make_runtime(replace(config, poll=poll), clock, urls, io.StringIO())

        async def run() -> list:
            seen = []
            async with service_resources(rt):
                for version in (1, 2, 3):
                    if version == 3:  # a new topic: the workers' matcher is out of date
                        path = sample_watchlists / "sample.toml"
                        path.write_text(
                            SAMPLE_WATCHLIST + '\n[[topics]]\nid = "governors"\n'
                            'title = "G"\nterms = ["governors"]\n',
                            encoding="utf-8",
                        )
                        os.utime(path, ns=(time.time_ns() + 10**9,) * 2)
                    serve_feeds(server, 4, version)
                    clock.advance(minutes=10)
                    report = await poll_cycle(rt)
                    seen.append((report.articles_new, rt.workers.starts, rt.workers.pids()))
                workers = rt.workers
            return seen, workers

        seen, workers = asyncio.run(run())
    (new1, starts1, pids1), (new2, starts2, pids2), (new3, starts3, pids3) = seen
    assert (new1, new2, new3) == (24, 24, 24)
    assert starts1 == starts2 == 1 and pids1 == pids2 and len(pids1) == 2
    assert starts3 == 2 and not set(pids3) & set(pids1)
    assert {h["topic"] for h in rt.store.hits_after(0)} >= {"governors", "sheinbaum"}
    assert workers.pids() == [] and not any(running(pid) for pid in pids3)  # closed at the end


def read_one(workers: ParseWorkers, index: int):
    pool = ParsePool(2, [], 0, shared=workers)
    result = FetchResult(Feed(f"https://x.test/{index}"), 200, feed_items(index, 0))
    return asyncio.run(pool.read(result, time_now()))


def time_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.timeout(60)
def test_a_killed_worker_is_replaced():
    workers = ParseWorkers(2)
    try:
        assert len(read_one(workers, 1).parsed.articles) == 6
        first = workers.pids()
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while running(first[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the pool notices its worker is gone
        item = read_one(workers, 2)
        assert item.parsed is not None and len(item.parsed.articles) == 6
        assert not item.parsed.error
        assert workers.starts == 2 and not set(workers.pids()) & set(first)
    finally:
        workers.close()
    assert workers.pids() == []


@pytest.mark.timeout(60)
def test_connections_are_kept_across_cycles(config, clock):
    """Six feeds on one host, three cycles: the connections of the first, not eighteen."""
    with FeedServer() as server:
        urls = serve_feeds(server, 6)
        rt = make_runtime(config, clock, urls, io.StringIO())

        def ports() -> set[int]:
            found = {r.client_port for r in server.requests}
            server.requests.clear()
            return found

        async def run() -> list[set[int]]:
            seen = []
            async with service_resources(rt):
                for version in (1, 1, 2):  # the second cycle: six 304s (unread, they
                    serve_feeds(server, 6, version)  # used to close their connections)
                    clock.advance(minutes=10)
                    await poll_cycle(rt)
                    seen.append(ports())
            return seen

        kept = asyncio.run(run())
        fresh = []
        for version in (3, 4):  # without the service's connections: new ones every cycle
            serve_feeds(server, 6, version)
            clock.advance(minutes=10)
            asyncio.run(poll_cycle(rt))
            fresh.append(ports())
    assert len(kept[0]) <= rt.config.poll.per_host  # six feeds, one host: reused in a cycle
    assert kept[1] <= kept[0] and kept[2] <= kept[0]  # the next cycles on the same ones
    assert fresh[0] and fresh[1] and not fresh[0] & fresh[1]


def test_the_title_index_stays_in_memory_across_cycles_and_is_pruned(config, clock):
    with FeedServer() as server:
        urls = serve_feeds(server, 2)
        rt = make_runtime(config, clock, urls, io.StringIO())
        asyncio.run(poll_cycle(rt))
        index = rt.store._recent_titles(clock.now)  # topped up with the last batch stored
        assert rt.store._titles is index and len(index) == 12
        loads = []
        execute = rt.store.db.execute

        def counting(sql, *args):
            if "title_key" in sql and "rowid >" in sql:
                loads.append(args)
            return execute(sql, *args)

        serve_feeds(server, 2, 2)
        clock.advance(minutes=10)
        rt.store.db.execute = counting
        asyncio.run(poll_cycle(rt))
        assert rt.store._recent_titles(clock.now) is index
        assert len(index) == 24  # topped up, not reloaded
        assert all(args[0][0] > 0 for args in loads)  # only rows newer than the last seen

        serve_feeds(server, 2, 3)
        clock.advance(hours=48, minutes=-5)  # the first cycle's titles expire
        asyncio.run(poll_cycle(rt))
        assert rt.store._recent_titles(clock.now) is index
        assert len(index) == 24  # 12 gone, 12 new
