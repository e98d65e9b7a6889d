"""Surge alerts: a normal-priority story carried by `surge_sources` outlets within
`surge_hours` is alerted at once, once per story, through the worker's real poll cycle."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from conftest import outbox_rows, prime_feeds, rss
from fakes.bot_api import parse_telegram_html
from fakes.feed_server import FeedServer, Route

from monitor.core.config import FeedConfig
from monitor.delivery.console import ConsoleSink
from monitor.matching.library import WatchlistLibrary
from monitor.pipeline.cycle import poll_cycle, sync_config_feeds
from monitor.pipeline.runtime import Runtime
from monitor.storage import Store

OUTLETS = "ABCD"
STORY = {
    "title": "Sheinbaum meets border governors on new security plan",
    "link": "https://wire.example/2026/sheinbaum-governors",
    "guid": "story-1",
}
HIGH_STORY = {"title": "Mexico curbs DEA immunity in new law", "link": "https://wire.example/dea"}


class Newsroom:
    """Four outlets on a fake feed server; `carry` makes some of them publish a story."""

    def __init__(self, server: FeedServer, config, clock) -> None:
        self.server, self.clock, self.out = server, clock, io.StringIO()
        feeds = []
        for name in OUTLETS:
            url = server.set(f"/{name}.xml", Route(body=rss([])))
            feeds.append(FeedConfig(url=url, name=f"Outlet {name}"))
        self.rt = Runtime(
            config=replace(config, feeds=tuple(feeds)),
            store=Store(config.storage.path),
            library=WatchlistLibrary(config.watchlists.path),
            sinks=[ConsoleSink(ZoneInfo("America/Mexico_City"), self.out)],
            clock=clock,
        )
        sync_config_feeds(self.rt)
        prime_feeds(self.rt.store)  # the outlets' stories are news, not a first backlog

    def carry(self, outlets: str, story: dict, after_minutes: float = 0) -> int:
        """The outlets publish `story` (each under its own guid), the clock moves on, one
        poll cycle runs; returns the alerts and surges it queued."""
        for name in outlets:
            item = {**story, "guid": f"{name}-{story.get('guid', 'x')}"}
            self.server.set(f"/{name}.xml", Route(body=rss([item])))
        self.clock.advance(minutes=after_minutes)
        return asyncio.run(poll_cycle(self.rt)).alerts_queued

    def surges(self, chat_id: str | None = None) -> list[dict]:
        rows = outbox_rows(self.rt.store, "surge")
        return [r for r in rows if chat_id is None or r["chat_id"] == chat_id]


@pytest.fixture
def newsroom(config, clock):
    with FeedServer() as server:
        room = Newsroom(server, config, clock)
        yield room
        room.rt.store.close()


def test_fires_once_at_the_threshold_not_again_for_the_fourth_outlet(newsroom):
    assert newsroom.carry("A", STORY) == 0
    assert newsroom.carry("B", STORY, after_minutes=20) == 0
    # outlet C carries it under another URL: the store merges it by its title
    assert newsroom.carry("C", {**STORY, "link": "https://c.example/copy"}, after_minutes=20) == 1
    assert newsroom.carry("D", STORY, after_minutes=20) == 0
    [surge] = newsroom.surges()
    assert surge["dedupe_key"].startswith("surge:console:")
    printed = newsroom.out.getvalue()
    assert printed.count("📈 Surge") == 1
    assert (
        "📈 Surge: Claudia Sheinbaum — carried by 3 outlets: Outlet A, Outlet B, Outlet C"
        in printed
    )
    assert "Sheinbaum meets border governors" in printed
    assert newsroom.rt.store.status_counts(newsroom.clock.now)["outbox_pending"] == 0


def test_outlets_outside_the_window_do_not_count(newsroom):
    assert newsroom.carry("A", STORY) == 0
    assert newsroom.carry("B", STORY, after_minutes=90) == 0
    assert newsroom.carry("C", STORY, after_minutes=90) == 0  # A was 3 hours ago
    assert newsroom.surges() == []
    assert newsroom.carry("D", STORY, after_minutes=30) == 1  # B, C, D within 2 hours
    payload = json.loads(newsroom.surges()[0]["payload"])
    assert payload["outlets"] == ["Outlet B", "Outlet C", "Outlet D"]


def test_high_priority_topics_alert_instantly_and_never_surge(newsroom):
    assert newsroom.carry("ABC", HIGH_STORY) == 1  # the instant alert, with the first outlet
    assert newsroom.carry("D", HIGH_STORY, after_minutes=5) == 0
    assert newsroom.surges() == []
    assert newsroom.out.getvalue().count("ALERT ") == 1


def test_telegram_subscribers_get_one_surge_with_vote_buttons(newsroom):
    rt = newsroom.rt
    rt.telegram_enabled = True
    rt.store.subscribe("424242", "sample", ["sheinbaum"], newsroom.clock.now)
    rt.store.subscribe("515151", "sample", ["dea-immunity"], newsroom.clock.now)
    assert newsroom.carry("ABC", STORY) == 1  # three outlets in one cycle: one surge
    assert newsroom.carry("D", STORY, after_minutes=10) == 0
    assert newsroom.surges("515151") == []  # not what that chat follows
    [row] = newsroom.surges("424242")
    payload = json.loads(row["payload"])
    plain, _ = parse_telegram_html(payload["text"])
    assert plain.startswith("📈 Surge: Claudia Sheinbaum — carried by 3 outlets:")
    [buttons] = payload["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in buttons] == ["👍 relevant", "👎 not relevant"]
    assert all(b["callback_data"].startswith("vote:") for b in buttons)
