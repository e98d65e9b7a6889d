"""A feed's life across cycles: backoff and recovery, Retry-After, warnings, stops, deadlines."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import replace
from datetime import timedelta

from conftest import outbox_counts, rss
from fakes.feed_server import FeedServer, Route
from test_worker import ITEMS, make_runtime

from monitor.core.timeutil import iso, parse_iso


def poll(rt):
    from monitor.pipeline.cycle import poll_cycle

    return asyncio.run(poll_cycle(rt))


def feed(rt, url):
    return rt.store.feed_row(url)


def test_failing_feed_backs_off_doubling_up_to_the_cap_and_recovers_on_first_success(config, clock):
    config = replace(
        config, poll=replace(config.poll, interval_seconds=600, max_backoff_seconds=3600)
    )
    with FeedServer() as server:
        url = server.set_sequence("/flaky.xml", [Route(status=500)] * 5 + [Route(body=rss(ITEMS))])
        rt = make_runtime(config, clock, [url], io.StringIO())
        delays = []
        for _ in range(5):
            poll(rt)
            row = feed(rt, url)
            next_at = parse_iso(row["next_attempt_at"])
            delays.append((next_at - clock.now).total_seconds() if next_at else None)
            if next_at:  # not polled before its next attempt
                clock.now = next_at - timedelta(seconds=1)
                assert poll(rt).feeds_failed == 0 and server.hits("/flaky.xml") == len(delays)
                clock.now = next_at
        assert delays == [None, 1200, 2400, 3600, 3600]
        assert feed(rt, url)["failures"] == 5
        assert feed(rt, url)["last_error"] == "HTTP 500 Internal Server Error"
        report = poll(rt)
    assert report.articles_new == 3
    row = feed(rt, url)
    assert (row["failures"], row["last_error"], row["next_attempt_at"]) == (0, None, None)
    assert row["last_ok_at"] == iso(clock.now)


def test_retry_after_sets_the_next_attempt_within_the_backoff_cap(config, clock):
    with FeedServer() as server:
        limited = server.set("/429.xml", Route(status=429, headers={"Retry-After": "7200"}))
        greedy = server.set("/503.xml", Route(status=503, headers={"Retry-After": "9999999"}))
        rt = make_runtime(config, clock, [limited, greedy], io.StringIO())
        poll(rt)
    assert feed(rt, limited)["next_attempt_at"] == iso(clock.now + timedelta(hours=2))
    cap = timedelta(seconds=config.poll.max_backoff_seconds)
    assert feed(rt, greedy)["next_attempt_at"] == iso(clock.now + cap)
    assert feed(rt, greedy)["last_status"] == 503


def test_feed_without_validators_is_fetched_again_but_adds_nothing(config, clock):
    out = io.StringIO()
    with FeedServer() as server:
        url = server.set_sequence(  # no ETag, no Last-Modified; the third body differs
            "/plain.xml", [Route(body=rss(ITEMS))] * 2 + [Route(body=rss(ITEMS, title="Wire"))]
        )
        rt = make_runtime(config, clock, [url], out)
        first = poll(rt)
        printed = out.getvalue()
        clock.advance(minutes=10)
        same_body = poll(rt)
        clock.advance(minutes=10)
        new_body = poll(rt)
        assert server.requests[-1].headers.get("if-none-match") is None
        assert server.hits("/plain.xml") == 3
    assert (first.articles_new, first.alerts_queued) == (3, 1)
    assert (same_body.feeds_ok, same_body.feeds_not_modified, same_body.articles_new) == (1, 1, 0)
    assert (new_body.feeds_ok, new_body.feeds_not_modified, new_body.articles_new) == (1, 0, 0)
    for report in (same_body, new_body):
        assert (report.hits_new, report.alerts_queued, report.delivery.sent) == (0, 0, 0)
    assert out.getvalue() == printed
    assert feed(rt, url)["articles"] == 3


def test_cut_off_response_is_stored_with_a_warning_that_clears_later(config, clock):
    items = [
        {"title": f"Security cooperation item {i}", "link": f"https://e.org/{i}"}
        for i in range(100)
    ]
    config = replace(config, poll=replace(config.poll, max_bytes=4096))
    with FeedServer() as server:
        url = server.set_sequence("/big.xml", [Route(body=rss(items)), Route(body=rss(items[:5]))])
        rt = make_runtime(config, clock, [url], io.StringIO())
        first = poll(rt)
        warning = feed(rt, url)["last_warning"]
        clock.advance(minutes=10)
        poll(rt)
    assert 0 < first.articles_new < 100 and first.feeds_ok == 1
    assert warning.startswith("malformed feed, kept")
    assert "response cut off at max_bytes (4,096 bytes)" in warning
    assert feed(rt, url)["last_warning"] is None


def test_stop_request_ends_the_cycle_between_feeds(config, clock):
    config = replace(config, poll=replace(config.poll, timeout_seconds=10))
    with FeedServer() as server:
        fast = server.set("/fast.xml", Route(body=rss(ITEMS)))
        slow = [server.set(f"/slow{i}.xml", Route(body=rss(ITEMS), delay=8)) for i in range(3)]
        rt = make_runtime(config, clock, [fast, *slow], io.StringIO())

        async def stop_soon():
            from monitor.pipeline.cycle import poll_cycle

            asyncio.get_running_loop().call_later(0.5, rt.stopping.set)
            return await poll_cycle(rt)

        started = time.monotonic()
        report = asyncio.run(stop_soon())
        elapsed = time.monotonic() - started
    assert elapsed < 3
    assert report.interrupted and report.feeds_ok == 1 and report.feeds_failed == 0
    assert report.articles_new == 3 and report.alerts_queued == 1
    assert outbox_counts(rt.store)["pending"] == 1  # queued, delivered by the next run
    assert feed(rt, fast)["last_ok_at"] is not None
    for url in slow:  # not failed: still due next time
        assert feed(rt, url)["failures"] == 0 and feed(rt, url)["last_error"] is None
    assert {f.url for f in rt.store.feeds_due(clock.now)} == {fast, *slow}
    assert rt.store.last_cycle()["error"] == "interrupted"


def test_feeds_unanswered_at_the_cycle_deadline_are_recorded_as_failed(config, clock):
    config = replace(
        config, poll=replace(config.poll, timeout_seconds=10, cycle_deadline_seconds=1)
    )
    with FeedServer() as server:
        fast = server.set("/fast.xml", Route(body=rss(ITEMS)))
        slow = server.set("/slow.xml", Route(body=rss(ITEMS), delay=8))
        rt = make_runtime(config, clock, [fast, slow], io.StringIO())
        started = time.monotonic()
        report = poll(rt)
        elapsed = time.monotonic() - started
    assert elapsed < 3
    assert (report.feeds_ok, report.feeds_failed, report.interrupted) == (1, 1, False)
    assert feed(rt, slow)["last_error"] == "no answer before the cycle deadline (1s)"
    assert report.delivery.sent == 1  # the cycle still delivers what it stored


def test_the_slowest_feeds_start_first_next_cycle(config, clock):
    config = replace(config, poll=replace(config.poll, timeout_seconds=5))
    with FeedServer() as server:
        urls = [
            server.set(f"/{name}.xml", Route(body=rss(ITEMS), delay=delay))
            for name, delay in (("a", 0), ("b", 0.6), ("c", 0.3))
        ]
        rt = make_runtime(config, clock, urls, io.StringIO())
        assert [f.url for f in rt.store.feeds_due(clock.now)] == urls  # never polled: by URL
        poll(rt)
    assert [f.url for f in rt.store.feeds_due(clock.now)] == [urls[1], urls[2], urls[0]]
