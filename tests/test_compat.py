"""Our adaptations of feedparser and httpx (feeds/compat.py) still take effect.

Each reaches into a library's internals; these fail when an update renames or
stops calling what we replaced, instead of the defence quietly going away.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import UTC, datetime

import feedparser
from feedparser import api as feedparser_api
from feedparser import mixin as feedparser_mixin

from monitor.core.models import Feed, FetchResult
from monitor.feeds import compat
from monitor.feeds.parse import parse_feed

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DECLARED = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY boom "EXPANDED">]>\n'
    b'<rss version="2.0"><channel><title>Wire</title>'
    b"<item><title>Before &boom; after</title><link>https://example.org/a</link></item>"
    b"</channel></rss>"
)


def test_every_adaptation_is_in_place_once_parse_is_imported():
    assert compat.installed() == {k: True for k in ("doctype", "expat", "contentparams", "sniffio")}


def test_feedparser_still_calls_the_hooks_we_replace():
    """`parse` looks `replace_doctype` and `PREFERRED_XML_PARSERS` up in its module at call
    time, and the mixin deep-copies contentparams through its `copy` global: if an update
    changes any of this, our replacement is never called."""
    parse_source = inspect.getsource(feedparser_api)
    assert "replace_doctype(" in parse_source and "PREFERRED_XML_PARSERS" in parse_source
    assert "copy.deepcopy(self.contentparams)" in inspect.getsource(feedparser_mixin)


def test_feedparser_parse_runs_our_doctype_hook(monkeypatch):
    """Through feedparser.parse itself, not only through parse_feed: an update that stops
    calling the hook (or calls a renamed one) leaves the DOCTYPE in, and this fails."""
    seen = []
    real = compat.drop_doctype

    def spy(data: bytes):
        seen.append(data[:9])
        return real(data)

    monkeypatch.setattr(compat, "drop_doctype", spy)
    parsed = feedparser.parse(DECLARED)
    assert seen, "feedparser.parse no longer calls replace_doctype"
    assert "EXPANDED" not in parsed.entries[0].title
    seen.clear()  # and the spy can tell: with feedparser's own hook back, it sees nothing
    monkeypatch.setattr(feedparser_api, "replace_doctype", compat._original_replace_doctype)
    feedparser.parse(DECLARED)
    assert seen == []


def test_parse_feed_keeps_the_entity_as_text():
    result = FetchResult(Feed("https://example.org/rss"), status=200, body=DECLARED)
    [article] = parse_feed(result, NOW).articles
    assert "EXPANDED" not in article.title and article.title.startswith("Before")


def test_install_twice_changes_nothing():
    before = feedparser_api.replace_doctype
    compat.install()
    assert feedparser_api.replace_doctype is before is compat.replace_doctype_safely


def test_a_fresh_process_gets_the_adaptations_from_fetch_alone():
    code = "import monitor.feeds.fetch as f, monitor.feeds.compat as c; print(all(c.installed().values()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "True", done.stderr
