"""The poller against the open internet: compression, redirects, size limits, slow hosts."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
import zlib
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from conftest import fetch_all, rss
from fakes.feed_server import FeedServer, Route

from monitor.core.config import PollConfig
from monitor.core.models import Feed
from monitor.feeds import fetch as fetch_module
from monitor.feeds.fetch import Fetcher, retry_after_seconds
from monitor.feeds.parse import parse_feed

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
ITEMS = [
    {"title": f"Story number {i} about the border", "link": f"https://example.org/{i}"}
    for i in range(3)
]


def fetch(feeds: list[Feed], **poll) -> list:
    async def run():
        async with Fetcher(replace(PollConfig(), **{"timeout_seconds": 2, **poll})) as fetcher:
            return [result async for result in fetch_all(fetcher, feeds)]

    return asyncio.run(run())


def fetch_one(url: str, **poll):
    return fetch([Feed(url)], **poll)[0]


def test_gzip_and_deflate_bodies_are_decoded():
    body = rss(ITEMS)
    with FeedServer() as server:
        gz = server.set("/gz.xml", Route(body=body, gzip=True))
        deflated = server.set(
            "/deflate.xml",
            Route(body=zlib.compress(body), headers={"Content-Encoding": "deflate"}),
        )
        results = {r.feed.url: r for r in fetch([Feed(gz), Feed(deflated)])}
    for url in (gz, deflated):
        assert results[url].error is None and results[url].body == body
        assert len(parse_feed(results[url], NOW).articles) == 3


def test_gzip_bomb_costs_at_most_max_bytes():
    bomb = gzip.compress(b"<rss>" + b" " * 30_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    with FeedServer() as server:
        url = server.set("/bomb.xml", Route(body=bomb, headers={"Content-Encoding": "gzip"}))
        result = fetch_one(url, max_bytes=1_000_000)
    assert result.truncated and len(result.body) == 1_000_000


def test_response_over_max_bytes_is_cut_off_and_keeps_the_entries_before_the_cut():
    items = [
        {"title": f"Item {i} on security cooperation", "link": f"https://e.org/{i}"}
        for i in range(200)
    ]
    with FeedServer() as server:
        url = server.set("/big.xml", Route(body=rss(items)))
        result = fetch_one(url, max_bytes=4096)
    assert result.truncated and len(result.body) == 4096
    parsed = parse_feed(result, NOW)
    assert 10 < len(parsed.articles) < 200
    assert parsed.error is None
    assert "response cut off at max_bytes (4,096 bytes)" in parsed.warning


def test_at_most_five_redirects_are_followed():
    with FeedServer() as server:
        server.set("/feed.xml", Route(body=rss(ITEMS)))
        for hop in range(6):
            target = "/feed.xml" if hop == 0 else f"/r{hop - 1}"
            server.set(f"/r{hop}", Route(status=301, headers={"Location": target}))
        five = fetch_one(server.url("/r4"))  # r4 -> r3 -> r2 -> r1 -> r0 -> feed.xml
        six = fetch_one(server.url("/r5"))
        loop = fetch_one(server.redirect_loop("/loop"))
    assert five.error is None and five.final_url.endswith("/feed.xml")
    assert six.error == "more than 5 redirects"
    assert loop.error == "more than 5 redirects"


def test_a_slow_host_does_not_hold_up_the_others():
    """Feeds queued behind a busy host wait for that host, not for global slots."""
    try:
        other = FeedServer(host="127.0.0.2").start()
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address on this system")
    with FeedServer() as slow, other:
        slow_feeds = [
            Feed(slow.set(f"/slow{i}.xml", Route(body=rss(ITEMS), delay=1.0))) for i in range(4)
        ]
        fast_feeds = [Feed(other.set(f"/fast{i}.xml", Route(body=rss(ITEMS)))) for i in range(4)]

        async def run():
            arrived = {}
            started = time.monotonic()
            poll = replace(PollConfig(), timeout_seconds=5, max_concurrency=3, per_host=2)
            async with Fetcher(poll) as fetcher:
                async for result in fetch_all(fetcher, slow_feeds + fast_feeds):
                    arrived[result.feed.url] = (time.monotonic() - started, result.error)
            return arrived

        arrived = asyncio.run(run())
    assert all(error is None for _, error in arrived.values())
    assert max(arrived[f.url][0] for f in fast_feeds) < 0.7  # not behind the 1 s feeds
    assert min(arrived[f.url][0] for f in slow_feeds) >= 0.9


def test_dead_servers_move_to_the_slow_lane_and_free_their_slots(monkeypatch):
    """Global slots taken by requests unanswered for a while go back to the other feeds."""
    monkeypatch.setattr(fetch_module, "SLOW_REQUEST_SECONDS", 0.4)
    with FeedServer() as server:
        dead = [Feed(server.set(f"/dead{i}.xml", Route(delay=30))) for i in range(3)]
        live = [Feed(server.set(f"/live{i}.xml", Route(body=rss(ITEMS)))) for i in range(4)]

        async def run():
            done = {}
            started = time.monotonic()
            poll = replace(PollConfig(), timeout_seconds=1.5, max_concurrency=2, per_host=10)
            async with Fetcher(poll) as fetcher:
                async for result in fetch_all(fetcher, dead + live):
                    done[result.feed.url] = (time.monotonic() - started, result.error)
            return done

        done = asyncio.run(run())
    live_times = [done[f.url][0] for f in live]
    assert all(done[f.url][1] is None for f in live)
    assert 0.35 < max(live_times) < 1.2  # waited for the slow lane, not for the timeout
    assert all(done[f.url][1] == "timed out after 1.5s" for f in dead)


def test_requests_run_ahead_of_slow_reading():
    """Reading (parsing) is slow; a dead server at the end of the list still starts its
    timeout at once instead of after every body before it has been read."""
    with FeedServer() as server:
        live = [Feed(server.set(f"/live{i}.xml", Route(body=rss(ITEMS)))) for i in range(8)]
        dead = Feed(server.set("/dead.xml", Route(delay=30)))

        async def run():
            done = {}
            started = time.monotonic()

            async def read_slowly(result):
                await asyncio.sleep(0.25)  # a parser busy with this body
                return result

            poll = replace(PollConfig(), timeout_seconds=1, max_concurrency=2, per_host=10)
            async with Fetcher(poll) as fetcher:
                async for result in fetch_all(fetcher, [*live, dead], read_slowly):
                    done[result.feed.url] = (time.monotonic() - started, result.error)
            return done

        done = asyncio.run(run())
    assert done[dead.url][1] == "timed out after 1s"
    # eight bodies read one after another would take 2 s before the dead request began
    assert done[dead.url][0] < 1.8


def test_the_backlog_of_bodies_not_yet_stored_stays_within_its_budget(monkeypatch):
    """With room for one body only, a request starts once the body before it has been
    read and stored (the caller asked for the next result): fetching slows to the pace
    of storing, and parsed articles never pile up in memory."""
    monkeypatch.setattr(fetch_module, "BACKLOG_BUDGET_BYTES", 1)
    with FeedServer() as server:
        feeds = [Feed(server.set(f"/f{i}.xml", Route(body=rss(ITEMS)))) for i in range(6)]
        requested_when_stored = []

        async def run():
            async def read(result):
                await asyncio.sleep(0.02)
                return result

            poll = replace(PollConfig(), max_concurrency=3, per_host=10)
            async with Fetcher(poll) as fetcher:
                async for result in fetch_all(fetcher, feeds, read):
                    assert result.error is None
                    await asyncio.sleep(0.05)  # storing
                    requested_when_stored.append(len(server.requests))

        asyncio.run(run())
    # in flight when the budget filled: up to max_concurrency more than were stored
    assert all(seen <= stored + 3 for stored, seen in enumerate(requested_when_stored, 1))
    assert requested_when_stored[0] < 6  # without the budget every request is out by now
    assert len(requested_when_stored) == 6


def test_a_failure_while_reading_reaches_the_caller():
    """A bug in the reading stage is not swallowed: it ends the cycle with its error."""
    with FeedServer() as server:
        feeds = [Feed(server.set(f"/f{i}.xml", Route(body=rss(ITEMS)))) for i in range(3)]

        async def run():
            async def broken(result):
                raise RuntimeError("reader bug")

            async with Fetcher(PollConfig()) as fetcher:
                async for _ in fetch_all(fetcher, feeds, broken):
                    pass

        with pytest.raises(RuntimeError, match="reader bug"):
            asyncio.run(run())


def test_at_most_per_host_requests_at_once():
    with FeedServer() as server:
        feeds = [
            Feed(server.set(f"/f{i}.xml", Route(body=rss(ITEMS), delay=0.4))) for i in range(4)
        ]
        results = fetch(feeds, per_host=2)
        arrivals = sorted(r.time for r in server.requests)
    assert all(r.error is None for r in results)
    assert arrivals[2] - arrivals[0] >= 0.35  # the third waited for a free slot


def test_a_silent_server_times_out():
    with FeedServer() as server:
        url = server.set("/stuck.xml", Route(body=rss(ITEMS), delay=5))
        started = time.monotonic()
        result = fetch_one(url, timeout_seconds=0.3)
    assert time.monotonic() - started < 2
    assert result.error == "timed out after 0.3s"


def test_a_server_dripping_bytes_hits_the_total_deadline():
    """One byte every 50 ms never trips the read timeout; the total deadline (2×) ends it."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<rss>")
            while not stop.wait(0.05):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        result = fetch_one(
            f"http://127.0.0.1:{listener.getsockname()[1]}/feed", timeout_seconds=0.3
        )
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
    assert result.error == "timed out after 0.6s in total"
    assert elapsed < 2


def test_retry_after_is_kept_for_the_next_attempt():
    with FeedServer() as server:
        limited = server.set("/429.xml", Route(status=429, headers={"Retry-After": "120"}))
        down = server.set(
            "/503.xml", Route(status=503, headers={"Retry-After": "Fri, 31 Dec 2100 23:59:59 GMT"})
        )
        results = {r.feed.url: r for r in fetch([Feed(limited), Feed(down)])}
    assert results[limited].error == "HTTP 429 Too Many Requests"
    assert results[limited].retry_after == 120
    assert results[down].retry_after > 365 * 24 * 3600


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        ("Fri, 20 Nov 2026 15:10:00 GMT", 600.0),
        ("Fri, 20 Nov 2026 14:00:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_header_forms(header, expected):
    assert retry_after_seconds(header, NOW) == expected


def test_unexpected_errors_become_a_failed_result_not_an_exception():
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in a transport")

    async def run():
        poll = replace(PollConfig(), timeout_seconds=1)
        async with Fetcher(poll, transport=httpx.MockTransport(explode)) as fetcher:
            return [r async for r in fetch_all(fetcher, [Feed("http://example.invalid/feed")])]

    [result] = asyncio.run(run())
    assert result.error == "unexpected RuntimeError: a bug in a transport"


def test_empty_body_and_html_page_are_reported_as_such():
    with FeedServer() as server:
        empty = server.set("/empty.xml", Route(body=b""))
        html = server.set(
            "/page.xml",
            Route(
                body=b"<!DOCTYPE html><html><head><title>Home</title></head></html>",
                content_type="text/html; charset=utf-8",
            ),
        )
        results = {r.feed.url: parse_feed(r, NOW) for r in fetch([Feed(empty), Feed(html)])}
    assert results[empty].error == "empty response: the server sent no feed"
    assert results[html].error == "not a feed: the server sent an HTML page"


def test_batches_gather_what_is_ready_and_never_wait_long_for_more():
    """Ready results come together, up to `most`; a late one is not waited for past `linger`."""
    with FeedServer() as server:
        fast = [Feed(server.set(f"/f{i}.xml", Route(body=rss(ITEMS)))) for i in range(7)]
        late = Feed(server.set("/late.xml", Route(body=rss(ITEMS), delay=1.0)))

        async def run():
            batches = []
            started = time.monotonic()
            async with Fetcher(replace(PollConfig(), timeout_seconds=5)) as fetcher:
                async for batch in fetcher.fetch_batches([*fast, late], most=4, linger=0.3):
                    batches.append((time.monotonic() - started, [r.feed.url for r in batch]))
            return batches

        batches = asyncio.run(run())
    sizes = [len(urls) for _, urls in batches]
    assert sum(sizes) == 8 and max(sizes) == 4  # all of them, never more than `most`
    assert batches[-1][1] == [late.url]  # alone: the fast ones were not held for it
    assert all(when < 0.9 for when, urls in batches if late.url not in urls)
    assert batches[-1][0] >= 0.9
