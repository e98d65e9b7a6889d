"""The fast path must give exactly what feedparser gives, or step aside.

Every corpus file, the demo feeds, the benchmark farm's feeds and a few
hand-made cases go through parse_feed twice: as shipped (fast path where it
applies) and with the fast path switched off. The articles must be equal.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime

import pytest
from conftest import DATA, DEMO_FEEDS, ROOT

from monitor import parse
from monitor.fastparse import parse_simple
from monitor.models import Feed, FetchResult

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CORPUS = DATA / "feed-corpus"
HEADER_TYPE = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.M | re.I)
TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml"}

HAND_MADE = {
    "guid as link, html-looking title, entities": (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>'
        b"<item><guid>https://e.org/1</guid><title>AT&amp;T &lt;b&gt;wins&lt;/b&gt;</title></item>"
        b'<item><guid isPermaLink="false">x2</guid><title>5 &lt; 6 &amp; 7</title>'
        b"<link>https://e.org/2?a=1&amp;amp;b=2</link><pubDate>Fri, 20 Nov 2026 10:00:00 -0500"
        b"</pubDate><source url='https://r.com'>Reuters</source></item></channel></rss>"
    ),
    "atom with html summary, id as link": (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="es"><title>F</title>'
        b'<entry><id>https://e.org/a</id><title type="html">&lt;i&gt;Hola&lt;/i&gt;</title>'
        b'<summary type="html">&lt;p&gt;Texto&lt;/p&gt;</summary>'
        b"<updated>2026-11-20T10:00:00.5+01:00</updated></entry>"
        b'<entry><id>tag:e.org,2026:b</id><link rel="alternate" type="text/html" '
        b'href="https://e.org/b"/><link rel="self" href="https://e.org/b.atom"/>'
        b"<title>B</title><published>2026-11-19T10:00:00Z</published></entry></feed>"
    ),
    "content before description, content only, C1 characters": (
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        b"<channel><title>C</title><language>en</language>"
        b"<item><title>One</title><link>https://e.org/1</link>"
        b"<content:encoded>&lt;p&gt;Full \xc2\x93text\xc2\x94&lt;/p&gt;</content:encoded>"
        b"<description>Short</description></item>"
        b"<item><title>Two</title><link>https://e.org/2</link>"
        b"<content:encoded>&lt;p&gt;Only content&lt;/p&gt;</content:encoded></item>"
        b"</channel></rss>"
    ),
    "mojibake repaired as feedparser does": (
        '<rss version="2.0"><channel><title>M</title><item><title>MÃ©xico</title>'
        "<link>https://e.org/m</link></item></channel></rss>"
    ).encode(),
}


def corpus_cases() -> list[tuple[str, bytes, str | None]]:
    cases = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.suffix in {".xml", ".rss", ".atom"}):
        body = path.read_bytes()
        header = HEADER_TYPE.search(body[:2000])
        content_type = (
            header.group(1).decode() if header else TYPES.get(path.suffix, "application/xml")
        )
        cases.append((str(path.relative_to(CORPUS)), body, content_type))
    for path in sorted(DEMO_FEEDS.glob("*.*")):
        if path.suffix in (".xml", ".atom"):
            cases.append((f"demo/{path.name}", path.read_bytes(), "application/xml"))
    for name, body in HAND_MADE.items():
        cases.append((name, body, "application/rss+xml; charset=utf-8"))
    return cases


def farm_cases() -> list[tuple[str, bytes, str]]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import feed_farm
    finally:
        sys.path.pop(0)
    feeds = feed_farm.build_farm(12, 5, 20)
    return [
        (f"farm/{f.index}/{g}", f.bodies[g][0], "application/rss+xml; charset=utf-8")
        for f in feeds
        for g in (1, 2)
        if f.bodies
    ]


def both_ways(body: bytes, content_type: str | None, monkeypatch):
    result = FetchResult(Feed("https://x.test/feed"), 200, body, content_type)
    fast = parse.parse_feed(result, NOW)
    with monkeypatch.context() as m:
        m.setattr(parse, "parse_simple", lambda *args: None)
        slow = parse.parse_feed(result, NOW)
    return fast, slow


def test_fast_path_equals_feedparser_wherever_it_applies(monkeypatch):
    cases = corpus_cases() + farm_cases()
    taken = []
    for name, body, content_type in cases:
        if parse_simple(body, content_type, parse.FEEDPARSER_RULES) is None:
            continue
        taken.append(name)
        fast, slow = both_ways(body, content_type, monkeypatch)
        assert fast == slow, name
    # not vacuous: real feeds, the farm and every hand-made case took the fast path
    assert sum(name.startswith("real-news/") for name in taken) >= 6, taken
    assert len(taken) >= 60
    assert sum(name.startswith("farm/") for name in taken) >= 10
    assert set(HAND_MADE) <= set(taken)


@pytest.mark.parametrize(
    ("why", "body", "content_type"),
    [
        ("a DOCTYPE", b'<!DOCTYPE rss><rss version="2.0"><channel/></rss>', None),
        ("another charset", b'<rss version="2.0"><channel/></rss>', "text/xml; charset=koi8-r"),
        (
            "a declared encoding",
            b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel/></rss>',
            None,
        ),
        ("RSS 0.91", b'<rss version="0.91"><channel/></rss>', None),
        (
            "an element feedparser maps onto a field",
            b'<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><item>'
            b"<dc:date>2026-11-20</dc:date></item></channel></rss>",
            None,
        ),
        (
            "the same, inside an element that is harmless itself",
            b'<rss version="2.0" xmlns:m="http://search.yahoo.com/mrss/"><channel><item>'
            b"<m:content url='https://e.org/v'><m:title>T</m:title></m:content></item>"
            b"</channel></rss>",
            None,
        ),
        (
            "a relative link",
            b'<rss version="2.0"><channel><item><link>/a</link></item></channel></rss>',
            None,
        ),
        (
            "a date only feedparser reads",
            b'<rss version="2.0"><channel><item><pubDate>20 novembre 2026</pubDate>'
            b"</item></channel></rss>",
            None,
        ),
        ("not XML", b"<html><body>hi", "text/html"),
        (
            "an undefined entity",
            b'<rss version="2.0"><channel><title>&eacute;</title></channel></rss>',
            None,
        ),
    ],
)
def test_fast_path_steps_aside(why, body, content_type):
    assert parse_simple(body, content_type, parse.FEEDPARSER_RULES) is None, why
