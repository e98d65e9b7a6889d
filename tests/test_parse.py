"""feedparser output -> clean Articles: plain text, canonical URLs, stable ids, UTC times."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from conftest import DATA, DEMO_FEEDS, rss
from feedparser import mixin as feedparser_mixin

from monitor.core.models import Feed, FetchResult
from monitor.feeds.parse import canonical_url, parse_feed
from monitor.text.htmltext import html_to_text

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def parse_bytes(body: bytes, url: str = "https://feeds.example/rss", content_type=None):
    return parse_feed(FetchResult(Feed(url), status=200, body=body, content_type=content_type), NOW)


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<div>Title</div>", "Title"),
        ("AT&T <-> Pemex: 5 < 6 & 7 > 2", "AT&T <-> Pemex: 5 < 6 & 7 > 2"),
        ("<p>One</p><p>Two &amp; three</p>", "One Two & three"),
        ("a<br>b", "a b"),
        ("<script>alert(1)</script>Safe", "Safe"),
        ("  lots \n of\t space ", "lots of space"),
        ("caf&eacute; &#8220;x&#8221;", "café “x”"),
    ],
)
def test_html_to_text(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://Example.ORG/a?utm_source=x&utm_medium=y", "https://example.org/a"),
        ("https://example.org/a?id=5&fbclid=abc#frag", "https://example.org/a?id=5"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org", "https://example.org/"),
        ("urn:x:1", "urn:x:1"),
    ],
)
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_title_entities_and_markup_arrive_as_plain_text():
    body = rss(
        [
            {
                "title": "AT&amp;T &lt;-&gt; Pemex: 5 &lt; 6 &amp; 7 &gt; 2",
                "link": "https://e.org/1",
            },
            {"title": "&lt;div&gt;Title&lt;/div&gt;", "link": "https://e.org/2"},
        ]
    )
    titles = [a.title for a in parse_bytes(body).articles]
    assert titles[0] == "AT&T <-> Pemex: 5 < 6 & 7 > 2"
    assert titles[1] in ("Title", "<div>Title</div>")  # feedparser decides whether it is markup


def test_ids_are_stable_and_guid_less_entries_use_the_link():
    body = rss([{"title": "A story", "link": "https://e.org/a?utm_source=rss"}])
    first = parse_bytes(body).articles[0]
    again = parse_bytes(rss([{"title": "A story (updated)", "link": "https://e.org/a"}])).articles[
        0
    ]
    assert first.id == again.id
    assert first.url == "https://e.org/a"


def test_published_time_is_utc_and_missing_time_is_none():
    body = rss(
        [
            {
                "title": "Dated",
                "link": "https://e.org/1",
                "pubDate": "Fri, 20 Nov 2026 08:00:00 -0600",
            },
            {"title": "Undated", "link": "https://e.org/2"},
        ]
    )
    dated, undated = parse_bytes(body).articles
    assert dated.published_at == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    assert undated.published_at is None


def test_entries_with_neither_title_nor_link_are_skipped_and_counted():
    body = rss([{"description": "orphan"}, {"title": "Kept", "link": "https://e.org/k"}])
    parsed = parse_bytes(body)
    assert [a.title for a in parsed.articles] == ["Kept"]
    assert parsed.skipped == 1


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"", None, "empty response"),
        (b"   \n", None, "empty response"),
        (b"<!DOCTYPE html><html><body><p>Not here</p></body></html>", "text/html", "HTML page"),
        (
            b"<rss><channel><title>x</title><item><title>Kept</title><link>https://e.org/k</link>"
            b"</item><item><title>cut",
            None,
            None,
        ),
        (b"\x00\x01\x02 binary", "application/octet-stream", "feed"),
    ],
)
def test_bad_bodies_are_clean_errors(body, content_type, error):
    parsed = parse_bytes(body, content_type=content_type)
    if error is None:  # truncated XML that still yields an entry: kept with a warning
        assert parsed.articles and parsed.warning
    else:
        assert not parsed.articles
        assert error in parsed.error


@pytest.mark.parametrize("name", ["wire-en.xml", "prensa-es.xml", "analysis.atom"])
def test_demo_feeds_parse_cleanly(name):
    parsed = parse_bytes(Path(DEMO_FEEDS / name).read_bytes())
    assert parsed.error is None and parsed.warning is None
    assert len(parsed.articles) >= 6
    assert all(a.title and a.url.startswith("https://") for a in parsed.articles)
    assert all("utm_" not in a.url for a in parsed.articles)


def test_feedparser_reads_every_corpus_file_the_same_with_the_shallow_copy(monkeypatch):
    """parse.py gives feedparser's mixin a plain copy of content parameters instead of a
    deep one; over the whole corpus every parsed value must be the same."""
    corpus = DATA / "feed-corpus"
    files = sorted(p for p in corpus.rglob("*") if p.suffix in {".xml", ".rss", ".atom"})
    assert len(files) > 100
    with_shim = {p: _feedparser_view(p.read_bytes()) for p in files}
    assert feedparser_mixin.copy is not copy  # the shim is in place
    monkeypatch.setattr(feedparser_mixin, "copy", copy)
    differing = [p.name for p in files if _feedparser_view(p.read_bytes()) != with_shim[p]]
    assert differing == []


def _feedparser_view(body: bytes) -> tuple:
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    error = parsed.get("bozo_exception")
    return parsed["feed"], parsed["entries"], parsed.get("version"), repr(error)
