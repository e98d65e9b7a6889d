"""End-to-end: feeds from a local server -> matches -> SQLite -> console alerts."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from conftest import outbox_rows, prime_feeds, rss
from fakes.feed_server import FeedServer, Route

from monitor.core.config import FeedConfig
from monitor.core.errors import StoreError
from monitor.delivery.console import ConsoleSink
from monitor.matching.library import WatchlistLibrary
from monitor.pipeline.cycle import poll_cycle, sync_config_feeds
from monitor.pipeline.digestjob import queue_digest
from monitor.pipeline.runtime import Runtime
from monitor.storage import Store

ITEMS = [
    {
        "title": "Mexico curbs DEA immunity in new law",
        "link": "https://example.org/a?utm_source=x",
        "guid": "a",
        "description": "&lt;p&gt;Foreign agents lose immunity.&lt;/p&gt;",
        "pubDate": "Fri, 20 Nov 2026 12:00:00 GMT",
    },
    {"title": "Sheinbaum visits Sonora", "link": "https://example.org/b", "guid": "b"},
    {"title": "Weather in Mérida stays sunny", "link": "https://example.org/c", "guid": "c"},
]


def make_runtime(config, clock, feeds, stream):
    config = replace(config, feeds=tuple(FeedConfig(url=u) for u in feeds))
    rt = Runtime(
        config=config,
        store=Store(config.storage.path),
        library=WatchlistLibrary(config.watchlists.path),
        sinks=[ConsoleSink(ZoneInfo("America/Mexico_City"), stream)],
        clock=clock,
    )
    sync_config_feeds(rt)
    prime_feeds(rt.store)  # items are news, not a first fetch's backlog
    return rt


def test_cycle_stores_matches_alerts_and_second_cycle_sends_nothing(config, clock):
    out = io.StringIO()
    with FeedServer() as server:
        url = server.set("/wire.xml", Route(body=rss(ITEMS), etag='"v1"'))
        rt = make_runtime(config, clock, [url], out)
        first = asyncio.run(poll_cycle(rt))
        assert (first.feeds_ok, first.articles_new, first.hits_new) == (1, 3, 2)
        assert first.alerts_queued == 1  # only the high-priority topic alerts
        assert first.delivery.sent == 1
        printed = out.getvalue()
        assert "Mexico curbs DEA immunity in new law" in printed
        assert "https://example.org/a" in printed and "utm_source" not in printed
        assert "DEA immunity" in printed  # the matched term is shown
        clock.advance(minutes=10)
        second = asyncio.run(poll_cycle(rt))
        assert server.requests[-1].headers.get("if-none-match") == '"v1"'
        assert second.feeds_not_modified == 1
        assert (second.articles_new, second.hits_new, second.delivery.sent) == (0, 0, 0)
        assert out.getvalue() == printed
        assert rt.store.status_counts(clock.now)["outbox_pending"] == 0


def test_same_article_in_two_feeds_is_stored_once(config, clock):
    with FeedServer() as server:
        a = server.set("/a.xml", Route(body=rss(ITEMS[:1], title="A")))
        b = server.set(
            "/b.xml",
            Route(
                body=rss(
                    [
                        {
                            **ITEMS[0],
                            "guid": "other-guid",
                            "link": "https://example.org/a?utm_medium=rss",
                        }
                    ],
                    title="B",
                )
            ),
        )
        rt = make_runtime(config, clock, [a, b], io.StringIO())
        report = asyncio.run(poll_cycle(rt))
    assert report.articles_new == 1 and report.alerts_queued == 1
    article = rt.store.articles_since(clock.now)[0]
    rows = rt.store.hits_between(clock.now, clock.now.replace(year=2027))
    assert set(rows[0]["sources"]) == {"A", "B"}
    assert article.url == "https://example.org/a"


def test_failing_feed_is_recorded_and_others_go_on(config, clock):
    with FeedServer() as server:
        good = server.set("/good.xml", Route(body=rss(ITEMS)))
        bad = server.set("/bad.xml", Route(status=500))
        html = server.set(
            "/html.xml",
            Route(body=b"<!doctype html><html><body>hi</body></html>", content_type="text/html"),
        )
        missing = server.url("/missing.xml")
        rt = make_runtime(config, clock, [good, bad, html, missing], io.StringIO())
        report = asyncio.run(poll_cycle(rt))
    assert (report.feeds_ok, report.feeds_failed, report.articles_new) == (1, 3, 3)
    feeds = {f["url"]: f for f in rt.store.feed_rows()}
    assert feeds[bad]["last_error"] == "HTTP 500 Internal Server Error"
    assert "HTML page" in feeds[html]["last_error"]
    assert feeds[missing]["failures"] == 1 and "404" in feeds[missing]["last_error"]
    assert feeds[good]["last_ok_at"] is not None and feeds[good]["failures"] == 0


def test_crash_mid_feed_rolls_back_articles_hits_outbox_and_etag(config, clock, monkeypatch):
    with FeedServer() as server:
        url = server.set("/wire.xml", Route(body=rss(ITEMS), etag='"v1"'))
        rt = make_runtime(config, clock, [url], io.StringIO())

        def crash(*args, **kwargs):
            raise StoreError("disk full (simulated)")

        monkeypatch.setattr(rt.store, "record_fetch", crash)
        with pytest.raises(StoreError):
            asyncio.run(poll_cycle(rt))
        monkeypatch.undo()
        assert rt.store.articles_since(clock.now.replace(year=2000)) == []
        assert outbox_rows(rt.store) == []
        assert rt.store.feeds_due(clock.now)[0].etag is None  # validators not advanced
        report = asyncio.run(poll_cycle(rt))  # the restart stores everything once
        assert (report.articles_new, report.alerts_queued) == (3, 1)
        assert server.requests[-1].headers.get("if-none-match") is None


def test_digest_covers_hits_since_the_previous_one(config, clock):
    out = io.StringIO()
    with FeedServer() as server:
        url = server.set("/wire.xml", Route(body=rss(ITEMS)))
        rt = make_runtime(config, clock, [url], out)
        asyncio.run(poll_cycle(rt))
        clock.advance(hours=1)
        assert queue_digest(rt, "console", clock.now) == 1
        clock.advance(hours=1)
        assert queue_digest(rt, "console", clock.now) == 0  # one digest per chat and date
    rows = outbox_rows(rt.store, "digest")
    assert len(rows) == 1
    assert "Sheinbaum visits Sonora" in rows[0]["payload"]
    assert "DEA immunity" in rows[0]["payload"]
