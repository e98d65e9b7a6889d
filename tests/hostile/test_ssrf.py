"""Finding 4 of issue 12: a public feed must not lead the worker to an internal address.

Every address here is on loopback, so a "public" host is simulated through the
config's own seam: `[poll] internal_networks` replaces the default ("not-global":
every address that is not globally reachable) with a list in which 127.0.0.1 and ::1
are internal and 127.0.0.2 is not, so a server on 127.0.0.2 plays a public
outlet.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest
from conftest import rss
from fakes.feed_server import FeedServer, Route

from monitor.core.config import PollConfig
from monitor.core.models import Feed, FetchResult
from monitor.core.netpolicy import AddressPolicy
from monitor.feeds.fetch import Fetcher

AS_IF_PUBLIC = ("127.0.0.1/32", "::1/128", "10.0.0.0/8", "169.254.0.0/16")
SECRET = rss([{"title": "SECRET internal report", "link": "https://intra.example/1"}], "Intra")
PUBLIC = rss([{"title": "Public story on the border", "link": "https://e.org/1"}], "Outlet")


def fetch_one(url: str, internal_networks: tuple[str, ...] = AS_IF_PUBLIC) -> FetchResult:
    async def run() -> FetchResult:
        poll = replace(PollConfig(), timeout_seconds=3, internal_networks=internal_networks)
        async with Fetcher(poll) as fetcher:
            return await fetcher.fetch(Feed(url))

    return asyncio.run(run())


@pytest.fixture
def internal():
    with FeedServer() as server:
        server.set("/secret.xml", Route(body=SECRET))
        yield server


def closed_port() -> int:
    with socket.socket() as probe:  # bound, never listening: connecting is refused
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def moved(server: FeedServer, path: str, location: str) -> str:
    return server.set(path, Route(status=302, content_type="", headers={"Location": location}))


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "0x7f000001", "2130706433", "127.1", "[::1]", "169.254.169.254"],
)
def test_a_redirect_from_a_public_feed_to_an_internal_address_is_refused_before_connecting(
    public, internal, host
):
    port = internal._server.server_address[1]
    url = moved(public, "/moved.xml", f"http://{host}:{port}/secret.xml")
    result = fetch_one(url)
    assert result.error is not None and result.error.startswith("refused: redirect")
    assert result.body == b"" and internal.hits("/secret.xml") == 0
    assert result.elapsed < 1.5  # refused at once: 169.254.169.254 would wait out the timeout


def test_every_hop_is_checked(public, internal):
    secret = internal.url("/secret.xml")
    url = moved(public, "/a.xml", public.url("/b.xml"))
    moved(public, "/b.xml", secret)
    result = fetch_one(url)
    assert result.error.startswith("refused: redirect") and public.hits("/b.xml") == 1
    assert internal.hits("/secret.xml") == 0


def test_a_refused_address_reads_the_same_whether_its_port_is_open_or_closed(public, internal):
    open_port, shut_port = internal._server.server_address[1], closed_port()
    to_open = fetch_one(moved(public, "/o.xml", f"http://127.0.0.1:{open_port}/secret.xml"))
    to_shut = fetch_one(moved(public, "/c.xml", f"http://127.0.0.1:{shut_port}/secret.xml"))
    assert to_open.error.replace(str(open_port), "PORT") == to_shut.error.replace(
        str(shut_port), "PORT"
    )
    assert internal.hits("/secret.xml") == 0


def test_public_redirects_are_still_followed(public):
    public.set("/feed.xml", Route(body=PUBLIC))
    result = fetch_one(moved(public, "/old.xml", public.url("/feed.xml")))
    assert result.error is None and result.body == PUBLIC
    assert result.final_url == public.url("/feed.xml")


def test_an_operator_url_is_used_as_written_loopback_included(internal):
    """Config feeds and `feeds add` may name loopback, and an intranet feed may redirect
    inside the intranet: only a public address handing over to an internal one is refused."""
    direct = fetch_one(internal.url("/secret.xml"), internal_networks=("not-global",))
    assert direct.error is None and direct.body == SECRET
    inside = fetch_one(
        moved(internal, "/moved.xml", internal.url("/secret.xml")),
        internal_networks=("not-global",),
    )
    assert inside.error is None and inside.body == SECRET


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.100.100.200", True),  # Alibaba's metadata, in the shared 100.64/10 range
        ("0.0.0.0", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
        ("::ffff:169.254.169.254", True),
        ("2002:7f00:1::1", True),  # 6to4 around 127.0.0.1
        ("fd00:ec2::254", True),  # AWS's IPv6 metadata
        ("fe80::1", True),
        ("93.184.215.14", False),
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_the_default_policy_knows_internal_addresses(address, internal):
    assert AddressPolicy().is_internal(address) is internal


def test_internal_networks_widen_or_replace_the_default():
    wider = AddressPolicy(("not-global", "198.51.7.0/24"))
    assert wider.is_internal("10.0.0.1") and wider.is_internal("198.51.7.9")
    assert not wider.is_internal("198.51.8.1")
    replaced = AddressPolicy(("127.0.0.1/32", "198.51.7.0/24"))
    assert replaced.is_internal("127.0.0.1") and replaced.is_internal("198.51.7.9")
    assert not replaced.is_internal("127.0.0.2") and not replaced.is_internal("10.0.0.1")
