"""Finding 5 of issue 12, the Telegram part: only http(s) links become text_links.

A feed writes its own links, and a `text_link` is a command to the reader's
Telegram client: `javascript:`, `data:`, `file:` and `tg:` ones reached
Telegram in alerts, digests, surges and /search and /recent replies. Every
Telegram renderer now builds its links with `render.link_html`, which keeps
a link only when `urlsafety.safe_http_url` does and shows the title as plain
text otherwise. Checked where Telegram would see it: the entities of the
messages the fake Bot API received from the real python-telegram-bot.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import outbox_rows
from test_bot import CHAT, ask, feeds, running_bot, telegram_config  # noqa: F401 (fixtures)
from test_bot import make_runtime as bot_runtime
from test_telegram_delivery import article, drain, make_runtime, queue_alert

from monitor.core.models import Hit
from monitor.delivery.render import link_html, render_surge_html
from monitor.digests.build import Digest, DigestEntry, DigestTopic
from monitor.digests.render import render_telegram_parts

from .test_script_links import HOSTILE, SAFE

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
HOSTILE_TG = {
    **HOSTILE,
    "entity colon": "javascript&#58;alert(1)",
    "entity letters": "&#106;avascript:alert(1)",
    "spaces around": "  JAVASCRIPT:alert(1)  ",
    "no host": "https:alert(1)",
    "scheme-relative": "//evil.example/x",
    "tg upper": "TG://msg?text=ran",
}


def text_links(fake) -> list[str]:
    """The URL of every text_link entity in every message the fake received."""
    urls = []
    for sent in fake.sent_messages():
        message = fake.get_message(sent["chat_id"], sent["_message_id"]) or {}
        urls += [e["url"] for e in message.get("entities", []) if e["type"] == "text_link"]
    return urls


def unsafe(urls: list[str]) -> list[str]:
    return [u for u in urls if not u.lower().startswith(("http://", "https://"))]


@pytest.mark.parametrize(
    ("url", "kept"),
    [(SAFE, True), ("HTTP://E.ORG/x", True), *[(u, False) for u in HOSTILE_TG.values()]],
)
def test_link_html_links_only_http(url, kept):
    html = link_html(url, "<b>Title</b> & co")
    assert ("<a href=" in html) is kept
    assert "&lt;b&gt;Title&lt;/b&gt; &amp; co" in html  # the title, escaped, either way


def test_no_hostile_link_reaches_telegram_in_alerts_digests_and_surges(config, clock, fake):
    rt = make_runtime(config, clock, fake)
    links = {**HOSTILE_TG, "safe": SAFE}
    for n, url in enumerate(links.values()):
        queue_alert(rt, "1001", replace(article(n, title=f"Story {n} DEA immunity"), url=url))
    entries = tuple(
        DigestEntry(f"Story {n}", url, ("Wire",), NOW, "DEA", "DEA story", (n,), (f"a{n}",))
        for n, url in enumerate(links.values())
    )
    topic = DigestTopic("sample", "dea-immunity", "DEA immunity", "high", entries, more=2)
    digest = Digest("2026-11-20", "UTC", (topic,), NOW)
    page = "javascript:alert('page')"  # even the day's page link is checked
    for n, part in enumerate(render_telegram_parts(digest, page)):
        rt.store.enqueue("1002", "digest", f"digest:1002:{n}", {"text": part.text}, clock.now)
    for n, url in enumerate(links.values()):
        row = {"title": f"Surge {n}", "url": url, "published_at": None, "watchlist": "w"}
        row |= {"topic": "t", "term": "DEA", "snippet": "DEA"}
        text = render_surge_html([row], ["A", "B", "C"], {}, ZoneInfo("UTC"))
        rt.store.enqueue("1003", "surge", f"surge:1003:{n}", {"text": text}, clock.now)
    asyncio.run(drain(rt))
    assert {r["status"] for r in outbox_rows(rt.store)} == {"sent"}
    urls = text_links(fake)
    print(f"alerts, digest, surges: {len(unsafe(urls))} hostile text_links of {len(urls)}")
    assert unsafe(urls) == []
    assert urls.count(SAFE) == 3  # the safe link kept: alert, digest, surge
    plain = "\n".join(m["_plain"] for m in fake.sent_messages())
    assert "\nStory 1 DEA immunity\nWire · " in plain  # a hostile link's title, as plain text


def test_no_hostile_link_reaches_telegram_in_search_and_recent(telegram_config, clock, fake):  # noqa: F811
    rt = bot_runtime(telegram_config, clock, fake)
    links = {**HOSTILE_TG, "safe": SAFE}
    arts = [
        replace(article(n, title=f"Zambada story {n}"), url=url)
        for n, url in enumerate(links.values())
    ]
    rt.store.add_new_articles("https://example.org/feed", arts, clock.now)
    rt.store.add_hits(
        [Hit(a.id, "sample", "dea-immunity", "DEA", 90.0, "DEA", "title", "high") for a in arts],
        clock.now,
    )
    rt.store.index_new_articles()
    rt.store.subscribe(str(CHAT), "sample", [], clock.now)

    async def scenario():
        async with running_bot(rt, fake):
            found = await ask(fake, CHAT, "/search zambada")
            recent = await ask(fake, CHAT, f"/recent {len(arts)}")
            return found + recent

    replies = asyncio.run(scenario())
    assert "Zambada story 0" in replies[0]["_plain"]
    urls = text_links(fake)
    print(f"/search and /recent: {len(unsafe(urls))} hostile text_links of {len(urls)}")
    assert unsafe(urls) == []
    assert SAFE in urls
