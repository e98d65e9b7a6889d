"""Finding 3 of issue 12: nested Content-Encoding must not get past `max_bytes`.

A body is decoded layer by layer as it streams, every layer's output counts
against `max_bytes`, and decoding stops at the limit; memory is measured
(tracemalloc traces every bytes object zlib returns), not only the result.
"""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from dataclasses import replace

import pytest
from conftest import rss
from fakes.feed_server import FeedServer, Route

from monitor.core.config import PollConfig
from monitor.core.models import Feed, FetchResult
from monitor.feeds.fetch import Fetcher

from .payloads import MB, gzip_with_trailing_junk, nested_gzip_bomb

ITEMS = [{"title": f"Story {i} on border security", "link": f"https://e.org/{i}"} for i in range(3)]


def fetch_traced(url: str, max_bytes: int) -> tuple[FetchResult, int]:
    """Fetch one feed; the result and the peak of Python memory allocated meanwhile."""

    async def run() -> FetchResult:
        poll = replace(PollConfig(), timeout_seconds=10, max_bytes=max_bytes)
        async with Fetcher(poll) as fetcher:
            return await fetcher.fetch(Feed(url))

    tracemalloc.start()
    try:
        result = asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return nested_gzip_bomb(256 * MB)


def test_a_nested_gzip_bomb_stops_at_max_bytes_with_bounded_memory(bomb):
    assert len(bomb) < 4096  # a few KB on the wire ...
    with FeedServer() as server:
        url = server.set("/bomb.xml", Route(body=bomb, headers={"Content-Encoding": "gzip, gzip"}))
        result, peak = fetch_traced(url, max_bytes=MB)
    assert result.error is None and result.truncated
    assert len(result.body) == MB and result.body.startswith(b'<?xml version="1.0"?><rss')
    assert peak < 12 * MB, f"peak {peak / MB:.0f} MB for a 1 MB limit"  # ... not 256 MB


def test_bytes_an_inner_layer_no_longer_reads_count_against_the_limit_too():
    """The inner stream ends at once; 256 MB of zeros after it are decoded by the outer
    layer only. They count, and are not kept."""
    body = gzip_with_trailing_junk(rss(ITEMS), 256 * MB)
    with FeedServer() as server:
        url = server.set("/junk.xml", Route(body=body, headers={"Content-Encoding": "gzip, gzip"}))
        result, peak = fetch_traced(url, max_bytes=MB)
    assert result.truncated and result.body == rss(ITEMS)
    assert peak < 12 * MB, f"peak {peak / MB:.0f} MB for a 1 MB limit"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", lambda b: gzip.compress(b)),
        ("x-gzip", lambda b: gzip.compress(b)),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b, wbits=-15)),  # raw deflate, as some servers send
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
        ("deflate, gzip", lambda b: gzip.compress(zlib.compress(b))),
        ("identity, GZip", lambda b: gzip.compress(b)),
    ],
)
def test_every_layer_of_an_honest_body_is_decoded(encoding, encode):
    body = rss(ITEMS)
    with FeedServer() as server:
        url = server.set("/f.xml", Route(body=encode(body), headers={"Content-Encoding": encoding}))
        result, _ = fetch_traced(url, max_bytes=MB)
    assert result.error is None and not result.truncated and result.body == body


def test_an_encoding_we_cannot_decode_is_an_error_not_a_garbled_feed():
    with FeedServer() as server:
        url = server.set("/br.xml", Route(body=b"\x1b\x00\x00", headers={"Content-Encoding": "br"}))
        result, _ = fetch_traced(url, max_bytes=MB)
    assert result.error == "unsupported Content-Encoding: br" and result.body == b""
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def test_a_corrupt_gzip_body_is_reported():
    with FeedServer() as server:
        url = server.set(
            "/bad.xml", Route(body=b"\x1f\x8bnot gzip at all", headers={"Content-Encoding": "gzip"})
        )
        result, _ = fetch_traced(url, max_bytes=MB)
    assert result.error and result.error.startswith("corrupt gzip body")
