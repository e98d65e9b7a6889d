"""A subscriber's digest covers the hits since their previous one: no gap, no overlap,
across time-zone changes; an empty day says so in one line, or sends nothing."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import outbox_rows

from monitor.core.models import Article, Hit
from monitor.delivery.console import ConsoleSink
from monitor.matching.library import WatchlistLibrary
from monitor.pipeline.digestjob import queue_digest
from monitor.pipeline.runtime import Runtime
from monitor.storage import Store

CHAT = "424242"


@pytest.fixture
def rt(config, clock):
    runtime = Runtime(
        config=config,
        store=Store(config.storage.path),
        library=WatchlistLibrary(config.watchlists.path),
        sinks=[ConsoleSink(ZoneInfo("UTC"), io.StringIO())],
        clock=clock,
    )
    runtime.store.sync_feeds([("https://wire.example/rss", "Wire", None)], clock.now)
    yield runtime
    runtime.store.close()


def add_story(rt: Runtime, slug: str, at: datetime) -> None:
    article = Article(
        id=slug,
        feed_url="https://wire.example/rss",
        url=f"https://wire.example/{slug}",
        title=f"Sheinbaum story {slug} on security cooperation",
        published_at=at,
    )
    for new in rt.store.add_new_articles(article.feed_url, [article], at):
        hit = Hit(new.id, "sample", "sheinbaum", "Sheinbaum", 100.0, new.title, "title")
        rt.store.add_hits([hit], at)


def digest_texts(rt: Runtime) -> dict[str, str]:
    return {r["dedupe_key"]: r["payload"] for r in outbox_rows(rt.store, "digest")}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_no_gap_no_overlap_when_the_chat_changes_time_zone(rt):
    add_story(rt, "a1", at("2026-11-20 15:00"))
    add_story(rt, "a2", at("2026-11-21 02:00"))
    # 07:30 in Mexico City on the 21st
    assert queue_digest(rt, CHAT, at("2026-11-21 13:30"), "America/Mexico_City") == 1
    add_story(rt, "b1", at("2026-11-21 14:00"))
    # /digesttime 07:30 Asia/Tokyo: next digest 07:30 JST on the 22nd (22:30 UTC on the 21st)
    assert queue_digest(rt, CHAT, at("2026-11-21 22:30"), "Asia/Tokyo") == 1
    add_story(rt, "c1", at("2026-11-21 23:00"))
    # west again, to Los Angeles: 07:30 PST on the 22nd, a date Tokyo's digest already had
    assert queue_digest(rt, CHAT, at("2026-11-22 15:30"), "America/Los_Angeles") == 1
    # the same LA date once more (a restart, a second trigger): nothing
    assert queue_digest(rt, CHAT, at("2026-11-22 16:30"), "America/Los_Angeles") == 0
    texts = digest_texts(rt)
    assert list(texts) == [
        f"digest:{CHAT}:2026-11-21",
        f"digest:{CHAT}:2026-11-22",
        f"digest:{CHAT}:2026-11-22@America/Los_Angeles",
    ]
    covered = [
        {slug for slug in ("a1", "a2", "b1", "c1") if f"story {slug} " in text}
        for text in texts.values()
    ]
    assert covered == [{"a1", "a2"}, {"b1"}, {"c1"}]  # every hit exactly once
    dates = [text.split("Digest for ")[1][:10] for text in texts.values()]
    assert dates == ["2026-11-21", "2026-11-22", "2026-11-22"]
    assert "Asia/Tokyo" in list(texts.values())[1]


def test_restart_between_digests_loses_and_repeats_nothing(rt, config):
    add_story(rt, "a1", at("2026-11-20 15:00"))
    queue_digest(rt, CHAT, at("2026-11-21 13:30"), "America/Mexico_City")
    add_story(rt, "b1", at("2026-11-21 18:00"))
    rt.store.close()
    rt.store = Store(config.storage.path)  # the worker restarts
    queue_digest(rt, CHAT, at("2026-11-22 13:30"), "America/Mexico_City")
    second = digest_texts(rt)[f"digest:{CHAT}:2026-11-22"]
    assert "story b1 " in second and "story a1 " not in second


def test_empty_day_sends_one_line_by_default(rt):
    assert queue_digest(rt, CHAT, at("2026-11-21 13:30"), "America/Mexico_City") == 1
    [payload] = digest_texts(rt).values()
    assert "Digest for 2026-11-21: nothing matched." in payload
    assert "reply_markup" not in payload  # no entries, no buttons


def test_empty_day_sends_nothing_when_configured_but_keeps_the_window(rt):
    rt.config = replace(rt.config, digest=replace(rt.config.digest, send_empty=False))
    add_story(rt, "a1", at("2026-11-20 15:00"))
    queue_digest(rt, CHAT, at("2026-11-21 13:30"), "America/Mexico_City")
    assert queue_digest(rt, CHAT, at("2026-11-22 13:30"), "America/Mexico_City") == 0
    add_story(rt, "b1", at("2026-11-22 18:00"))
    assert queue_digest(rt, CHAT, at("2026-11-23 13:30"), "America/Mexico_City") == 1
    texts = digest_texts(rt)
    assert list(texts) == [f"digest:{CHAT}:2026-11-21", f"digest:{CHAT}:2026-11-23"]
    assert "story b1 " in texts[f"digest:{CHAT}:2026-11-23"]
    assert rt.store.chat(CHAT)["last_digest_at"].startswith("2026-11-23")
