"""Watchlist reload notices: admins hear about a rejected edit once, subscribers about a
removed watchlist; both through the outbox."""

from __future__ import annotations

import asyncio
import io
import json
import os
from dataclasses import replace
from zoneinfo import ZoneInfo

from conftest import SAMPLE_WATCHLIST, outbox_rows

from monitor.core.config import TelegramConfig
from monitor.delivery.console import ConsoleSink
from monitor.matching.library import WatchlistLibrary
from monitor.pipeline.cycle import poll_cycle
from monitor.pipeline.runtime import Runtime
from monitor.storage import Store


def rewrite(path, text):
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def runtime(config, clock, telegram: bool, out=None):
    config = replace(config, telegram=TelegramConfig(admins=(111, 222)))
    return Runtime(
        config=config,
        store=Store(config.storage.path),
        library=WatchlistLibrary(config.watchlists.path),
        sinks=[ConsoleSink(ZoneInfo("UTC"), out or io.StringIO())],
        telegram_enabled=telegram,
        clock=clock,
    )


def notices(rt):
    return [
        (r["chat_id"], json.loads(r["payload"])["text"]) for r in outbox_rows(rt.store, "notice")
    ]


def test_rejected_edit_is_told_to_admins_once(config, clock, sample_watchlists):
    rt = runtime(config, clock, telegram=True)
    rewrite(
        sample_watchlists / "sample.toml", SAMPLE_WATCHLIST.replace("window = 30", "window = 0 <")
    )
    asyncio.run(poll_cycle(rt))
    clock.advance(minutes=10)
    asyncio.run(poll_cycle(rt))  # same broken file: no second notice
    sent = notices(rt)
    assert [chat for chat, _ in sent] == ["111", "222"]
    assert "sample.toml:" in sent[0][1] and "previous watchlists stay in force" in sent[0][1]
    assert "<pre>" in sent[0][1] and sent[0][1].endswith("</pre>")
    assert rt.library.get("sample") is not None  # the last good set still runs


def test_rejected_edit_goes_to_the_console_without_telegram(config, clock, sample_watchlists):
    out = io.StringIO()
    rt = runtime(config, clock, telegram=False, out=out)
    rewrite(sample_watchlists / "sample.toml", "[watchlist\n")
    asyncio.run(poll_cycle(rt))
    assert out.getvalue().count("Watchlist change rejected") == 1
    assert "sample.toml:1:" in out.getvalue()


def test_subscribers_of_a_removed_watchlist_are_told(config, clock, sample_watchlists):
    extra = sample_watchlists / "extra.toml"
    extra.write_text(
        '[watchlist]\nid = "extra"\n[[topics]]\nid = "x"\nterms = ["Mérida Initiative"]\n'
    )
    rt = runtime(config, clock, telegram=True)
    rt.store.subscribe("500", "extra", [], clock.now)
    rt.store.subscribe("600", "sample", [], clock.now)
    extra.unlink()
    asyncio.run(poll_cycle(rt))
    sent = notices(rt)
    assert [chat for chat, _ in sent] == ["500"]
    assert "<b>extra</b>" in sent[0][1] and "/unsubscribe extra" in sent[0][1]
