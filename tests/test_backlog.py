"""Adding a feed never floods subscribers: its first fetch, and items older than
`[poll] alert_max_age_hours`, go to the digest only (issue 16, item 1).

Before, `monitor feeds add` on a feed of 12 items dated weeks ago, then a poll, sent
12 instant alerts; the first poll of a 300-feed farm printed 138.
"""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from email.utils import format_datetime

from conftest import outbox_rows, prime_feeds, rss
from fakes.feed_server import FeedServer, Route
from test_worker import make_runtime

from monitor.pipeline.cycle import poll_cycle


def item(n: int, published) -> dict:
    return {
        "title": f"Mexico curbs DEA immunity, report {n}",
        "link": f"https://wire.example/{n}",
        "guid": f"g{n}",
        "pubDate": format_datetime(published),
    }


def test_a_new_feed_of_old_items_alerts_nobody_but_fills_the_digest(config, clock):
    weeks_ago = [item(n, clock.now - timedelta(weeks=3, hours=n)) for n in range(12)]
    with FeedServer() as server:
        url = server.set("/old.xml", Route(body=rss(weeks_ago)))
        rt = make_runtime(config, clock, [], io.StringIO())
        rt.store.add_feed(url, None, None, clock.now)  # as `monitor feeds add` does
        report = asyncio.run(poll_cycle(rt))
    assert (report.articles_new, report.alerts_queued) == (12, 0)
    assert report.hits_new == 12  # stored and matched: the digest has them
    assert outbox_rows(rt.store, "alert") == []


def test_a_first_fetch_is_a_backlog_even_for_fresh_items(config, clock):
    fresh = [item(1, clock.now - timedelta(minutes=5))]
    with FeedServer() as server:
        url = server.set("/new.xml", Route(body=rss(fresh)))
        rt = make_runtime(config, clock, [url], io.StringIO())
        rt.store.db.execute("UPDATE feeds SET last_ok_at = NULL")  # never fetched
        assert asyncio.run(poll_cycle(rt)).alerts_queued == 0
        server.set("/new.xml", Route(body=rss([*fresh, item(2, clock.now)])))
        clock.advance(minutes=10)
        second = asyncio.run(poll_cycle(rt))
    assert (second.articles_new, second.alerts_queued) == (1, 1)  # the next item is news


def test_items_older_than_the_limit_wait_for_the_digest(config, clock):
    items = [
        item(1, clock.now - timedelta(hours=30)),  # past the 24 h default
        item(2, clock.now - timedelta(hours=2)),
        {"title": "Mexico curbs DEA immunity, no date", "link": "https://wire.example/3"},
    ]
    with FeedServer() as server:
        url = server.set("/mixed.xml", Route(body=rss(items)))
        rt = make_runtime(config, clock, [url], io.StringIO())
        prime_feeds(rt.store)
        report = asyncio.run(poll_cycle(rt))
    assert (report.articles_new, report.alerts_queued) == (3, 2)  # undated: first seen now
    [(old_id,)] = rt.store.db.execute(
        "SELECT id FROM articles WHERE url = 'https://wire.example/1'"
    ).fetchall()
    keys = {row["dedupe_key"] for row in outbox_rows(rt.store, "alert")}
    assert len(keys) == 2 and not any(key.endswith(old_id) for key in keys)
