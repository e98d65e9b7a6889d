"""Every file of the feed corpus through the real fetch + parse path, from a local server.

The rule (tests/data/feed-corpus/README.md): every file yields entries or
comes out as a clean per-feed error; nothing escapes a cycle, one bad feed
never stops the others. Also: the same files answering 500, too slowly, and
with 304 on a second poll (no duplicates), and through the corpus's own
serve.py (gzip, ETag/Last-Modified, ?status, ?delay, ?type) when
../shared/feed-corpus is present.
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from dataclasses import replace

import pytest
from conftest import DATA, SHARED, fetch_all
from fakes.feed_server import CONTENT_TYPES, FeedServer, Route
from test_worker import make_runtime

from monitor.core.config import PollConfig
from monitor.core.models import Feed
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parse import parse_feed
from monitor.pipeline.cycle import poll_cycle

CORPUS = DATA / "feed-corpus"
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".json"}
HEADER_TYPE = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.M | re.I)
# README.md: these give bozo and no entries, and must come out as clean errors
EXPECTED_ERRORS = {
    "real-news/rss_2.0_invalid_1.xml",
    "feedparser/illformed/aaa_illformed.xml",
    "feedparser/illformed/rss_empty_document.xml",
    "feedparser/illformed/undeclared_namespace.xml",
    "feedparser/illformed/chardet/big5.xml",
    "feedparser/encoding/bozo_bogus_encoding.xml",
    "feedparser/encoding/bozo_invalid-bytes-with-bom.xml",
    "feedparser/entities/attr_amp.xml",
    "feedparser/entities/doesnotexist.xml",
    "feedparser/entities/eacute.xml",
    "feedparser/entities/empty.xml",
    "feedparser/entities/ntilde.xml",
    "feedparser/json/example.json",
}
ALSO_ERRORS = {  # errors only because of the Content-Type their `Header:` line asks for ...
    "feedparser/encoding/bozo_http_i18n.xml",  # us-ascii declared, UTF-8 bytes, no entries
    "feedparser/encoding/bozo_http_text_plain.xml",  # text/plain
    "feedparser/illformed/http_high_bit_date.xml",  # us-ascii declared, Greek bytes
    # ... or because nothing in them says RSS or Atom (a CDF channel with no title or items)
    "feedparser/wellformed/cdf/channel_href_map_link.xml",
    "feedparser/wellformed/cdf/channel_lastmod_parsed.xml",
}
REAL_NEWS_ENTRIES = {  # what a reader of these snapshots sees
    "AtomTheVerge.xml": 10,
    "Rss10Minutos20.xml": 15,
    "Rss10OrfAt.xml": 50,
    "Rss20DailyMail.xml": 0,
    "Rss20NYTimes.xml": 33,
    "Rss20Reuters.xml": 10,
    "guardian.rss": 55,
    "heise.atom": 15,
    "iconv.xml": 10,
    "rss_2.0_bbc.xml": 1,
    "rss_2.0_ilgiornale.xml": 1,
    "tpm.atom": 20,
    "uolNoticias.rss": 15,
    "wapowellness.xml": 29,
}


def corpus_files(root=CORPUS) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.suffix in FEED_SUFFIXES and p.is_file()
    )


def content_type(path) -> str:
    """The Content-Type the file's expectation assumes (its `Header:` line), else by suffix."""
    header = HEADER_TYPE.search(path.read_bytes()[:2000])
    return header.group(1).decode() if header else CONTENT_TYPES[path.suffix]


def serve_corpus(server: FeedServer, suffix: str = "", **route) -> dict[str, str]:
    urls = {}
    for name in corpus_files():
        path = CORPUS / name
        body = path.read_bytes()
        urls[name] = server.set(
            f"/{name}{suffix}",
            Route(body=body, content_type=content_type(path), etag=str(hash(body)), **route),
        )
    return urls


def fetch_and_parse(urls: dict[str, str], **poll) -> dict[str, tuple]:
    async def run():
        out = {}
        names = {url: name for name, url in urls.items()}
        async with Fetcher(replace(PollConfig(), **{"timeout_seconds": 5, **poll})) as fetcher:
            async for result in fetch_all(fetcher, [Feed(u) for u in urls.values()]):
                parsed = parse_feed(result, None) if not result.error else None
                out[names[result.feed.url]] = (result, parsed)
        return out

    return asyncio.run(run())


def outcome(result, parsed) -> tuple[int, str | None]:
    if result.error:
        return 0, result.error
    return len(parsed.articles), parsed.error


def test_every_corpus_file_gives_entries_or_a_clean_error():
    with FeedServer() as server:
        results = fetch_and_parse(serve_corpus(server))
    assert len(results) == len(corpus_files()) >= 169
    errors = {}
    for name, (result, parsed) in results.items():
        count, error = outcome(result, parsed)
        if error:
            errors[name] = error
            assert count == 0, name
            assert "\n" not in error and len(error) < 300, (name, error)
            assert error.startswith(("malformed feed", "not a feed", "empty response")), error
    assert set(errors) == EXPECTED_ERRORS | ALSO_ERRORS
    assert errors["feedparser/json/example.json"].startswith("not a feed: JSON")
    for name, expected in REAL_NEWS_ENTRIES.items():
        assert outcome(*results[f"real-news/{name}"])[0] == expected, name
    with_entries = [n for n, r in results.items() if outcome(*r)[0]]
    assert len(with_entries) >= 44


def test_a_cycle_over_the_whole_corpus_then_a_304_cycle_adds_nothing(config, clock):
    with FeedServer() as server:
        urls = serve_corpus(server)
        rt = make_runtime(config, clock, list(urls.values()), io.StringIO())
        first = asyncio.run(poll_cycle(rt))
        articles = rt.store.status_counts(clock.now)["articles"]
        clock.advance(minutes=10)
        second = asyncio.run(poll_cycle(rt))
    assert first.feeds_ok + first.feeds_failed == len(urls)
    assert first.feeds_failed == len(EXPECTED_ERRORS | ALSO_ERRORS)
    assert first.articles_new == articles > 300
    assert second.feeds_not_modified == first.feeds_ok  # every stored feed answered 304
    assert second.articles_new == 0 and second.hits_new == 0
    assert rt.store.status_counts(clock.now)["articles"] == articles


def test_failing_and_slow_variants_are_clean_per_feed_errors(config, clock):
    with FeedServer() as server:
        failing = serve_corpus(server, "?status=500", status=500)
        slow = {n: u for n, u in serve_corpus(server, "?delay=10", delay=10).items()}
        slow = dict(list(slow.items())[:8])
        rt = make_runtime(
            replace(config, poll=replace(config.poll, timeout_seconds=0.5)),
            clock,
            [*failing.values(), *slow.values()],
            io.StringIO(),
        )
        report = asyncio.run(poll_cycle(rt))
    assert (report.feeds_ok, report.feeds_failed) == (0, len(failing) + len(slow))
    errors = {f["url"]: f["last_error"] for f in rt.store.feed_rows()}
    assert {errors[u] for u in failing.values()} == {"HTTP 500 Internal Server Error"}
    assert {errors[u] for u in slow.values()} == {"timed out after 0.5s"}


@pytest.fixture(scope="module")
def shared_corpus_server():
    """The corpus's own serve.py, on the shared copy of the corpus."""
    corpus = SHARED / "feed-corpus"
    if not (corpus / "serve.py").is_file():
        pytest.skip("../shared/feed-corpus/serve.py is not here (it ships with the shared corpus)")
    process = subprocess.Popen(
        [sys.executable, str(corpus / "serve.py"), str(corpus), "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield corpus, process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_shared_corpus_through_serve_py(shared_corpus_server, config, clock):
    corpus, base = shared_corpus_server
    names = corpus_files(corpus)
    urls = {n: base + n for n in names}
    variants = {
        "redirect": base + "real-news/guardian.rss?status=301",
        "plain": base + "real-news/heise.atom?type=text/plain",
        "gone": base + "real-news/heise.atom?status=410",
    }
    rt = make_runtime(config, clock, [*urls.values(), *variants.values()], io.StringIO())
    first = asyncio.run(poll_cycle(rt))
    rows = {f["url"]: f for f in rt.store.feed_rows()}
    stored = rt.store.status_counts(clock.now)["articles"]
    clock.advance(minutes=10)
    second = asyncio.run(poll_cycle(rt))
    assert first.feeds_ok + first.feeds_failed == len(names) + 3
    assert {n for n, u in urls.items() if rows[u]["failures"]} >= EXPECTED_ERRORS
    assert rows[variants["redirect"]]["failures"] == 0  # one redirect, to the file itself
    assert rows[variants["gone"]]["last_error"] == "HTTP 410 Gone"
    plain = rows[variants["plain"]]  # entries kept, the wrong Content-Type reported
    assert plain["failures"] == 0 and "kept 15 entries" in plain["last_warning"]
    assert second.articles_new == 0 and second.feeds_not_modified >= first.feeds_ok - 2
    assert rt.store.status_counts(clock.now)["articles"] == stored


def test_shared_corpus_slow_answers_time_out_cleanly(shared_corpus_server):
    _, base = shared_corpus_server
    urls = {"slow": base + "real-news/guardian.rss?delay=3", "fast": base + "real-news/heise.atom"}
    results = fetch_and_parse(urls, timeout_seconds=0.5)
    assert results["slow"][0].error == "timed out after 0.5s"
    assert outcome(*results["fast"]) == (15, None)
