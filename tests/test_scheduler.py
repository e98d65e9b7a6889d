"""Scheduling that runs for months: daily jobs across daylight-saving changes,
the housekeeping job's retention rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import outbox_rows

from monitor.core.models import Article, Hit
from monitor.pipeline.housekeeping import run_housekeeping
from monitor.pipeline.scheduler import DailyAt

NEW_YORK = ZoneInfo("America/New_York")  # clocks go forward 2027-03-14, back 2027-11-07


def fire_times(trigger: DailyAt, start: datetime, count: int) -> list[datetime]:
    """Drive the trigger as APScheduler does: previous fire time and a clock just after it."""
    times, previous, now = [], None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        times.append(fire)
        previous, now = fire, fire + timedelta(seconds=1)
    return times


@pytest.mark.parametrize(
    ("start", "hhmm", "expected_local"),
    [
        # spring forward: 07:30 stays 07:30 on the wall clock; the UTC instant moves
        (
            datetime(2027, 3, 12, 12, tzinfo=NEW_YORK),
            "07:30",
            ["03-13 07:30 EST", "03-14 07:30 EDT", "03-15 07:30 EDT"],
        ),
        # 02:30 does not exist on 03-14: it goes out once, at 03:30 EDT
        (
            datetime(2027, 3, 12, 12, tzinfo=NEW_YORK),
            "02:30",
            ["03-13 02:30 EST", "03-14 03:30 EDT", "03-15 02:30 EDT"],
        ),
        # fall back: 01:30 happens twice on 11-07; the digest goes once, at the first
        (
            datetime(2027, 11, 5, 12, tzinfo=NEW_YORK),
            "01:30",
            ["11-06 01:30 EDT", "11-07 01:30 EDT", "11-08 01:30 EST", "11-09 01:30 EST"],
        ),
        (
            datetime(2027, 11, 5, 12, tzinfo=NEW_YORK),
            "07:30",
            ["11-06 07:30 EDT", "11-07 07:30 EST", "11-08 07:30 EST"],
        ),
    ],
)
def test_daily_digest_fires_once_per_local_day_across_dst(start, hhmm, expected_local):
    times = fire_times(
        DailyAt(hhmm, "America/New_York"), start.astimezone(UTC), len(expected_local)
    )
    assert [t.astimezone(NEW_YORK).strftime("%m-%d %H:%M %Z") for t in times] == expected_local
    assert all(t.tzinfo is not None for t in times)
    days = [t.astimezone(NEW_YORK).date() for t in times]
    assert len(set(days)) == len(days)


def test_daily_trigger_after_a_restart_waits_for_the_next_occurrence():
    trigger = DailyAt("07:30", "America/Mexico_City")  # no DST since 2022
    now = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # 08:00 in Mexico City
    assert trigger.get_next_fire_time(None, now) == datetime(2026, 11, 21, 13, 30, tzinfo=UTC)
    at_the_minute = datetime(2026, 11, 20, 13, 30, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, at_the_minute) == at_the_minute


def test_housekeeping_prunes_unmatched_old_articles_and_keeps_hits(store, clock):
    old, recent = clock.now - timedelta(days=100), clock.now - timedelta(days=5)
    store.sync_feeds([("f", None, None)], old)
    articles = [
        Article(id=f"a{i}", feed_url="f", url=f"https://e.org/{i}", title=f"Article {i}")
        for i in range(1203)
    ]
    store.add_new_articles("f", articles[:1200], old)
    store.add_new_articles("f", articles[1200:], recent)
    store.index_new_articles()  # the pruning below removes indexed rows from the index
    store.add_hits([Hit("a7", "w", "t", "term", 100.0, "snippet")], old)
    store.enqueue("console", "alert", "alert:console:a7", {"x": 1}, old)
    sent = store.claim_next("console", "me", old, old + timedelta(minutes=2))
    assert sent is not None and store.finish_sent(sent.id, "me", old)
    store.enqueue("console", "alert", "alert:console:a8", {"x": 1}, old)  # still pending: kept
    old_token = store.add_vote_target([1], "c", old)
    new_token = store.add_vote_target([1], "c", clock.now)
    report = asyncio.run(run_housekeeping(store, keep_days=90, now=clock.now))
    assert store.record_vote(old_token, "c", "relevant", clock.now) == 0  # expired
    assert store.record_vote(new_token, "c", "relevant", clock.now) == 1
    assert report.articles_pruned == 1199  # in batches; a7 has a hit and stays
    kept = {a.id for a in store.articles_since(old - timedelta(days=1))}
    assert kept == {"a7", "a1200", "a1201", "a1202"}
    assert [r["dedupe_key"] for r in outbox_rows(store)] == ["alert:console:a8"]
    found = {r["id"] for r in store.search_articles("Article", limit=50)}
    assert found == kept  # the search index follows the pruning
    # FTS5 compares its index with the articles table (a count(*) would read the table)
    store.db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
    assert asyncio.run(run_housekeeping(store, keep_days=90, now=clock.now)).articles_pruned == 0
