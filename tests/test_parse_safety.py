"""Hostile XML: declared entities are never expanded, external ones never read.

Before the DOCTYPE was dropped, feedparser's loose parser expanded a "safe"
entity: the quadratic case below took 45 s of CPU and 5.7 GB of memory.
The bounds here are tight enough that any expansion fails them.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime

import pytest

from monitor.core.models import Feed, FetchResult
from monitor.feeds.parse import parse_feed
from monitor.text.xmlsafe import drop_doctype

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
ITEM = "<item><title>{title}</title><link>https://example.org/a</link></item>"


def feed_with(doctype: str, title: str, newline: str = "\n") -> bytes:
    return (
        f'<?xml version="1.0"?>{newline}{doctype}{newline}<rss version="2.0"><channel>'
        "<title>Wire</title>"
        + ITEM.format(title=title)
        + "<item><title>A normal headline</title><link>https://example.org/b</link></item>"
        + "</channel></rss>"
    ).encode()


def billion_laughs(separator: str) -> str:
    lines = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return f"<!DOCTYPE rss [{separator}{separator.join(lines)}{separator}]>"


QUADRATIC = '<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 100_000 + '">\n]>'


def parse_measured(body: bytes, content_type: str = "application/rss+xml"):
    tracemalloc.start()
    started = time.process_time()
    try:
        parsed = parse_feed(FetchResult(Feed("https://x.test/feed"), 200, body, content_type), NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return parsed, time.process_time() - started, peak


@pytest.mark.parametrize(
    ("name", "doctype", "title", "newline"),
    [
        ("billion laughs, one declaration a line", billion_laughs("\n"), "&lol9;", "\n"),
        ("billion laughs, all on one line", billion_laughs(""), "&lol9;", ""),
        ("quadratic blowup", QUADRATIC, "&a;" * 2_000, "\n"),
        ("quadratic blowup, one line", QUADRATIC.replace("\n", ""), "&a;" * 2_000, ""),
    ],
)
def test_entity_bombs_are_not_expanded(name, doctype, title, newline):
    """Without the fix the one-line billion laughs costs 1.6 s of CPU in expat before its
    amplification limit stops it, and the quadratic one expands to 200 MB in feedparser."""
    parsed, cpu, peak = parse_measured(feed_with(doctype, title, newline))
    assert cpu < 0.5, name
    assert peak < 20_000_000, name
    assert [a.url for a in parsed.articles] == ["https://example.org/a", "https://example.org/b"]
    assert all(len(a.title) <= 6_000 for a in parsed.articles)  # the references stay text
    assert "lol" * 100 not in parsed.articles[0].title and "AAAA" not in parsed.articles[0].title
    assert parsed.warning and "malformed feed, kept 2 entries" in parsed.warning


def test_external_entities_are_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    for doctype in (
        f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{secret.as_uri()}">\n]>',
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>',
        f'<!DOCTYPE rss SYSTEM "{secret.as_uri()}">',
    ):
        parsed, _, _ = parse_measured(feed_with(doctype, "Leak: &xxe;"))
        assert len(parsed.articles) == 2
        assert all("TOP-SECRET" not in a.title + a.summary for a in parsed.articles)


def test_utf16_feed_with_an_entity_bomb_is_covered_too():
    """The DOCTYPE is dropped from feedparser's UTF-8 copy, whatever the encoding on the wire."""
    body = (
        feed_with(QUADRATIC, "&a;" * 2_000)
        .decode()
        .replace('version="1.0"?', 'version="1.0" encoding="utf-16"?')
    )
    parsed, cpu, peak = parse_measured(body.encode("utf-16"), "application/xml")
    assert cpu < 0.5 and peak < 20_000_000
    assert len(parsed.articles) == 2


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<?xml version='1.0'?><!DOCTYPE rss><rss/>", b"<?xml version='1.0'?><rss/>"),
        (b'<!DOCTYPE rss [<!ENTITY a "x > y">]><rss/>', b"<rss/>"),  # > inside a value
        (b"<!doctype rss [<!-- ] > ' --><!ENTITY b 'q'>]>\n<rss/>", b"\n<rss/>"),
        (b'<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "x.dtd"><rss/>', b"<rss/>"),
        (b"<rss><description>&lt;!DOCTYPE html&gt;</description></rss>", None),
        (b"<rss/><!DOCTYPE late>", None),  # only the prolog is looked at
        (b'<!DOCTYPE rss [<!ENTITY a "unterminated', b""),
    ],
)
def test_drop_doctype(data, expected):
    stripped, _ = drop_doctype(data)
    assert stripped == (data if expected is None else expected)


def test_a_feed_with_a_harmless_doctype_still_parses_cleanly_enough():
    body = feed_with(
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd">',
        "Sheinbaum &amp; Salazar meet",
    )
    parsed, _, _ = parse_measured(body)
    assert parsed.error is None and parsed.warning is None
    assert parsed.articles[0].title == "Sheinbaum & Salazar meet"
