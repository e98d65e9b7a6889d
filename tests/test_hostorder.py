"""A cycle's requests spread each host's feeds through the cycle: one connection a host."""

from __future__ import annotations

import asyncio
import platform
from dataclasses import replace

import pytest
from conftest import rss
from fakes.feed_server import FeedServer, Route

from monitor.core.config import PollConfig
from monitor.core.models import Feed
from monitor.feeds.fetch import Fetcher
from monitor.feeds.hostorder import spread_hosts


def urls(feeds: list[Feed]) -> list[str]:
    return [f.url for f in feeds]


def test_a_hosts_next_feed_comes_after_every_other_hosts_and_the_order_holds_otherwise():
    feeds = [
        Feed("https://a.test/1"),
        Feed("https://a.test/2"),
        Feed("https://a.test/3"),
        Feed("https://b.test/1"),
        Feed("https://B.test:8443/2"),  # the host, not the origin: same server
        Feed("https://c.test/1"),
        Feed("file:///srv/feeds/local.xml"),
    ]
    assert urls(spread_hosts(feeds)) == [
        "https://a.test/1",
        "https://b.test/1",
        "https://c.test/1",
        "file:///srv/feeds/local.xml",
        "https://a.test/2",
        "https://B.test:8443/2",
        "https://a.test/3",
    ]
    one_host = [Feed(f"https://a.test/{i}") for i in (5, 1, 3)]  # slowest first: kept
    assert urls(spread_hosts(one_host)) == urls(one_host)
    assert spread_hosts([]) == []


@pytest.mark.skipif(platform.system() != "Linux", reason="needs 127.0.0.2 on loopback")
def test_feeds_listed_host_by_host_start_one_on_each_host_first():
    """Two requests at a time, six feeds on each of two hosts, listed host by host (as a
    first cycle lists them, by URL): the first two requests go one to each host, so
    neither host gets two at once on two new connections; and the kept connections are
    reused (fewer connections than requests)."""
    items = [{"title": "Story about the border", "link": "https://example.org/1"}]
    with FeedServer("127.0.0.1") as first, FeedServer("127.0.0.2") as second:
        feeds = [
            Feed(server.set(f"/f{i}.xml", Route(body=rss(items), delay=0.2)))
            for server in (first, second)
            for i in range(6)
        ]
        poll = replace(PollConfig(), max_concurrency=2, per_host=4, timeout_seconds=5)

        async def run() -> list:
            async with Fetcher(poll) as fetcher:
                return [r async for batch in fetcher.fetch_batches(feeds) for r in batch]

        results = asyncio.run(run())
        assert len(results) == 12 and not any(r.error for r in results)
        firsts = [min(r.time for r in server.requests) for server in (first, second)]
        seconds = [sorted(r.time for r in server.requests)[1] for server in (first, second)]
        assert max(firsts) < min(seconds)  # each host's first request before any second one
        for server in (first, second):
            assert len(server.requests) == 6
            assert len({r.client_port for r in server.requests}) < 6, server.host
