"""A farm of synthetic news feeds on many loopback addresses, for bench_feeds.py.

    python benchmarks/feed_farm.py --feeds 500 [--feeds-per-host 5] [--items 50]

Standard library only (asyncio streams, HTTP/1.1 keep-alive), in its own
process so its CPU is not the poller's. Prints one JSON line on stdout:
{"feeds": [{"url", "kind"}], "control": URL}; a GET of the control URL moves
the farm to its next generation (some feeds gain new items). Stop it with
SIGTERM. For benchmarks of the running service (bench_service.py) the farm
also keeps a log of every request (`/_log`), and serves any past generation
of a feed again (`?gen=N`), so a baseline can replay a cycle's requests.

Every feed has 50 items of realistic size (a 9–14 word title, 40–80 words of
description with a little HTML, link, guid, date, category), about 35 KB. The
words follow Zipf's law over a 20,000-word vocabulary, as headlines' do.
Some titles mention watchlist topics so the matcher has work, and about one
item in twenty is a wire story carried by several feeds (same link, or the
same title under another link) so deduplication has work too.

Kinds, by share of feeds (deterministic, seeded):
  fast          80%  ETag + Last-Modified; 304 when unchanged; half gzip
  no-validators  6%  no ETag, no Last-Modified: the same 200 every time
  slow           6%  answers after 2–5 s
  failing        4%  HTTP 500
  hanging        2%  never answers before the client's timeout (sleeps 120 s)
  html           2%  an HTML page instead of a feed
Generation 2: 5% of the fast and no-validators feeds publish 5 new items.
`/_next?share=S` instead picks a share S of them (seeded by the generation)
to publish 5 new items each; `share=0` makes a generation where nothing
changes (the all-304 cycle).
Feeds are spread over hosts 127.0.1.1, 127.0.1.2, ... (five feeds a host by
default), as a real feed list spans many outlets.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import gzip
import hashlib
import json
import random
import signal
import sys
from dataclasses import dataclass, field

KINDS = (
    ("fast", 0.80),
    ("no-validators", 0.06),
    ("slow", 0.06),
    ("failing", 0.04),
    ("hanging", 0.02),
    ("html", 0.02),
)
FUNCTION_WORDS = [
    "the",
    "of",
    "to",
    "in",
    "and",
    "a",
    "for",
    "on",
    "with",
    "as",
    "at",
    "by",
    "from",
    "is",
    "after",
    "over",
    "says",
    "new",
]
SYLLABLES = [
    "ba",
    "be",
    "ca",
    "co",
    "da",
    "de",
    "di",
    "el",
    "en",
    "fa",
    "ga",
    "la",
    "le",
    "li",
    "lo",
    "ma",
    "me",
    "mi",
    "mo",
    "na",
    "ne",
    "no",
    "pa",
    "pe",
    "po",
    "ra",
    "re",
    "ri",
    "ro",
    "sa",
    "se",
    "si",
    "so",
    "ta",
    "te",
    "ti",
    "to",
    "va",
    "ve",
    "vi",
]


def make_vocabulary(rng: random.Random, size: int = 20_000) -> tuple[list[str], list[float]]:
    """Function words, then pseudo-words with Zipf weights: headlines' rank-frequency shape."""
    words = list(FUNCTION_WORDS)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    cumulative, total = [], 0.0
    for rank in range(1, size + 1):
        total += 1 / rank**1.05
        cumulative.append(total)
    return words, cumulative


VOCABULARY = make_vocabulary(random.Random(1))
TOPICAL = (
    "DEA immunity for foreign agents debated in Mexico's Congress",
    "Sheinbaum rejects unilateral US strikes on cartels",
    "Bicentennial Framework talks resume in Washington",
    "Ken Salazar meets Sheinbaum on security cooperation",
    "Mérida Initiative funds under review",
    "Zambada case: 'El Mayo' pleads in US court",
)
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Home</title></head><body>Welcome</body></html>"


@dataclass
class FarmFeed:
    index: int
    kind: str
    host: str
    gzip: bool
    changes: bool
    bodies: dict[int, tuple[bytes, bytes, str]] = field(
        default_factory=dict
    )  # version -> plain, gz, etag
    delay: float = 0.0
    items: int = 50

    @property
    def path(self) -> str:
        return f"/feeds/{self.index}.xml"


def sentence(rng: random.Random, low: int, high: int) -> str:
    words, cumulative = VOCABULARY
    return " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(low, high)))


def make_item(rng: random.Random, feed: int, number: int, wire: list[tuple[str, str]]) -> str:
    if rng.random() < 0.05 and wire:
        title, link = rng.choice(wire)
        if rng.random() < 0.5:  # the same story under the outlet's own link
            link = f"https://outlet{feed}.example/news/{number}"
    else:
        title = sentence(rng, 9, 14).capitalize()
        if rng.random() < 0.03:
            title = f"{rng.choice(TOPICAL)}: {title}"
        link = f"https://outlet{feed}.example/news/{number}?utm_source=rss"
    description = (
        f"&lt;p&gt;{sentence(rng, 40, 80)} &lt;a href='{link}'&gt;more&lt;/a&gt;&lt;/p&gt;"
    )
    date = email.utils.formatdate(1_790_000_000 + number * 600, usegmt=True)
    return (
        f"<item><title>{title}</title><link>{link}</link>"
        f'<guid isPermaLink="false">feed{feed}-item{number}</guid><pubDate>{date}</pubDate>'
        f"<category>World</category><description>{description}</description></item>"
    )


def make_body(feed: FarmFeed, generation: int, items: int, wire: list) -> tuple[bytes, bytes, str]:
    """Version `generation` of a feed: five more items on top for every version past 1."""
    rng = random.Random(feed.index * 1000 + generation)
    first = 5 * (generation - 1)
    numbers = range(items + first, first, -1)
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Outlet {feed.index}</title><link>https://outlet{feed.index}.example/</link>"
        "<description>Synthetic news</description>"
        + "".join(make_item(rng, feed.index, n, wire) for n in numbers)
        + "</channel></rss>"
    ).encode()
    return xml, gzip.compress(xml, 6, mtime=0), hashlib.sha1(xml).hexdigest()[:16]


def wire_stories(seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [
        (sentence(rng, 10, 13).capitalize(), f"https://wire.example/story/{n}") for n in range(200)
    ]


def build_farm(count: int, per_host: int, items: int, seed: int = 7) -> list[FarmFeed]:
    rng = random.Random(seed)
    wire = [
        (sentence(rng, 10, 13).capitalize(), f"https://wire.example/story/{n}") for n in range(200)
    ]
    feeds = []
    for index in range(count):
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        host_no = index // per_host
        host = f"127.0.{1 + host_no // 250}.{1 + host_no % 250}"
        feed = FarmFeed(
            index, kind, host, gzip=rng.random() < 0.5, changes=rng.random() < 0.05, items=items
        )
        feed.delay = {"slow": rng.uniform(2, 5), "hanging": 120.0}.get(kind, 0.0)
        if kind != "html":
            feed.bodies[1] = make_body(feed, 1, items, wire)  # later versions: when asked
        feeds.append(feed)
    return feeds


class Farm:
    def __init__(self, feeds: list[FarmFeed], wire: list | None = None) -> None:
        self.feeds = feeds
        self.by_path = {(f.host, f.path): f for f in feeds}
        self.wire = wire or []
        self.generation = 1
        # generation -> feed index -> version of its body (1 until it changes)
        self.versions: list[dict[int, int]] = [{}, {f.index: 1 for f in feeds}]
        self.log: list[dict] = []  # every request: for bench_service.py's replays
        self.connections = 0  # TCP connections accepted: is keep-alive working?

    def next_generation(self, share: float | None) -> None:
        """Default: bench_feeds.py's generation 2. With `share`: that share of the feeds
        with a body publish five new items (deterministic: seeded by the generation)."""
        self.generation += 1
        versions = dict(self.versions[-1])
        movable = [f for f in self.feeds if f.kind in ("fast", "no-validators")]
        if share is None:
            chosen = [f for f in movable if f.changes]
        else:
            chosen = random.Random(self.generation).sample(movable, round(share * len(movable)))
        for feed in chosen:
            versions[feed.index] += 1
        self.versions.append(versions)

    def body(self, feed: FarmFeed, generation: int) -> tuple[bytes, bytes, str]:
        version = self.versions[generation][feed.index]
        if version not in feed.bodies:
            feed.bodies[version] = make_body(feed, version, feed.items, self.wire)
        return feed.bodies[version]

    def answer(self, host: str, target: str, headers: dict[str, str]):
        """(status, headers, body, delay) for one request."""
        path, _, query = target.partition("?")
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        if path == "/_next":
            self.next_generation(float(params["share"]) if "share" in params else None)
            text = f"generation {self.generation}\n".encode()
            return 200, {"Content-Type": "text/plain"}, text, 0.0
        if path == "/_log":
            return 200, {"Content-Type": "application/json"}, json.dumps(self.log).encode(), 0.0
        if path == "/_stats":
            stats = {"connections": self.connections, "requests": len(self.log)}
            return 200, {"Content-Type": "application/json"}, json.dumps(stats).encode(), 0.0
        feed = self.by_path.get((host, path))
        generation = int(params.get("gen", self.generation))
        if feed is not None and "gen" not in params:
            changed = (
                feed.kind in ("fast", "no-validators")
                and generation > 1
                and self.versions[generation][feed.index]
                != self.versions[generation - 1][feed.index]
            )
            self.log.append(
                {
                    "host": host,
                    "path": path,
                    "generation": generation,
                    "if_none_match": headers.get("if-none-match"),
                    "changed": changed or generation == 1,
                }
            )
        feed = self.by_path.get((host, path))
        if feed is None:
            return 404, {"Content-Type": "text/plain"}, b"not found\n", 0.0
        if feed.kind == "failing":
            return 500, {"Content-Type": "text/html"}, b"<h1>Internal Server Error</h1>", 0.0
        if feed.kind == "html":
            return 200, {"Content-Type": "text/html; charset=utf-8"}, HTML_PAGE, 0.0
        plain, gz, etag = self.body(feed, generation)
        extra = {"Content-Type": "application/rss+xml; charset=utf-8"}
        if feed.kind != "no-validators":
            extra["ETag"] = f'"{etag}"'
            if headers.get("if-none-match") == f'"{etag}"':
                return 304, extra, b"", feed.delay
        body = plain
        if feed.gzip and "gzip" in headers.get("accept-encoding", ""):
            body = gz
            extra["Content-Encoding"] = "gzip"
        return 200, extra, body, feed.delay


async def serve_connection(farm: Farm, host: str, reader, writer) -> None:
    farm.connections += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request, *lines = head.decode("latin-1").split("\r\n")
            path = request.split(" ")[1]
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            status, extra, body, delay = farm.answer(host, path, headers)
            if delay:
                await asyncio.sleep(delay)
            reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}.get(status, "Error")
            extra["Content-Length"] = str(len(body)) if status != 304 else "0"
            lines_out = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in extra.items()]
            writer.write(("\r\n".join(lines_out) + "\r\n\r\n").encode() + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    except asyncio.CancelledError:  # the farm is shutting down mid-delay: just hang up
        pass
    finally:
        writer.close()


async def main(args: argparse.Namespace) -> None:
    feeds = build_farm(args.feeds, args.feeds_per_host, args.items)
    farm = Farm(feeds, wire_stories())
    hosts = sorted({f.host for f in feeds} | {"127.0.0.1"})
    servers = {}
    port = 0
    for host in hosts:  # one port everywhere: the first free one on 127.0.0.1
        server = await asyncio.start_server(
            lambda r, w, h=host: serve_connection(farm, h, r, w), host, port, backlog=256
        )
        port = port or server.sockets[0].getsockname()[1]
        servers[host] = server
    listing = [{"url": f"http://{f.host}:{port}{f.path}", "kind": f.kind} for f in feeds]
    print(json.dumps({"feeds": listing, "control": f"http://127.0.0.1:{port}/_next"}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers.values():
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--feeds-per-host", type=int, default=5)
    parser.add_argument("--items", type=int, default=50)
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        sys.exit(130)
