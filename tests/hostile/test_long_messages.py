"""Finding 9 of issue 12: a too-long field never loses a message.

A title over 4,096 characters left its alert failed "Message is too long".
Every field is now cut with "…" so that each message fits Telegram's limit
as Telegram measures it: the visible text after entity parsing, in UTF-16
code units (an astral emoji counts two, `&amp;` one, tags none). The fake
Bot API measures the same way, so what it accepts Telegram would.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import outbox_rows
from test_telegram_delivery import CHAT, article, drain, make_runtime, queue_alert

from monitor.delivery.render import render_surge_html
from monitor.digests.build import Digest, DigestEntry, DigestTopic
from monitor.digests.render import render_telegram_parts

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
HUGE = {
    "ascii": "DEA immunity " + "x" * 5000,
    "astral": "DEA immunity " + "😀" * 3000,  # 3,013 characters, 6,013 UTF-16 units
    "markup": "DEA immunity " + "<&>\"'" * 1000,  # each escaped: 5,013 visible, 25,000 raw
    "one long word": "DEA immunity " + "ñ" * 20_000,
}


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("kind", HUGE)
def test_a_huge_alert_is_sent_and_fits(config, clock, fake, kind):
    rt = make_runtime(config, clock, fake)
    title = HUGE[kind]
    queue_alert(rt, CHAT, article(1, title=title, source=title), snippet=title)
    report = asyncio.run(drain(rt))
    [row] = outbox_rows(rt.store)
    print(f"alert, {kind} title: {row['status']} {row['error'] or ''}")
    assert (report.sent, report.failed) == (1, 0)
    [sent] = fake.sent_messages(CHAT)
    assert utf16(sent["_plain"]) <= 4096
    assert sent["_plain"].count("…") >= 1  # cut where it was cut, and said so
    assert "DEA immunity" in sent["_plain"]


def huge_digest(title: str) -> Digest:
    entry = DigestEntry(
        title=title,
        url="https://example.org/story?a=1&b=2",
        sources=tuple(f"Outlet {n} {title[:40]}" for n in range(300)),
        published_at=NOW,
        term="DEA immunity",
        snippet=title,
        hit_ids=(1,),
        article_ids=("a1",),
        also_in=tuple(f"Topic {n}" for n in range(300)),
    )
    topic = DigestTopic("sample", "dea-immunity", title, "high", (entry, entry))
    return Digest("2026-11-20", "America/Mexico_City", (topic,), generated_at=NOW)


@pytest.mark.parametrize("kind", HUGE)
def test_a_huge_digest_and_surge_are_sent_and_fit(config, clock, fake, kind):
    rt = make_runtime(config, clock, fake)
    title = HUGE[kind]
    for n, part in enumerate(render_telegram_parts(huge_digest(title))):
        rt.store.enqueue(CHAT, "digest", f"digest:{CHAT}:{n}", {"text": part.text}, clock.now)
    row = {"title": title, "url": "https://e.org/s", "published_at": "2026-11-20T12:00:00+00:00"}
    row |= {"watchlist": "sample", "topic": "dea-immunity", "term": title, "snippet": title}
    outlets = [f"Outlet {n} {title[:100]}" for n in range(50)]
    surge = render_surge_html([row], outlets, {}, ZoneInfo("UTC"))
    rt.store.enqueue(CHAT, "surge", f"surge:{CHAT}:a1", {"text": surge}, clock.now)
    asyncio.run(drain(rt))
    rows = outbox_rows(rt.store)
    print(f"digest+surge, {kind}: {[(r['kind'], r['status'], r['error']) for r in rows]}")
    assert [r["status"] for r in rows] == ["sent"] * len(rows)
    assert all(utf16(m["_plain"]) <= 4096 for m in fake.sent_messages(CHAT))


def test_a_row_queued_too_long_before_the_caps_is_clipped_not_lost(config, clock, fake, caplog):
    rt = make_runtime(config, clock, fake)
    text = '<b>Digest</b>\n<a href="https://e.org/1">' + "😀" * 3000 + "</a> <i>end</i>"
    rt.store.enqueue(CHAT, "digest", f"digest:{CHAT}:old", {"text": text}, clock.now)
    asyncio.run(drain(rt))
    assert [r["status"] for r in outbox_rows(rt.store)] == ["sent"]
    [sent] = fake.sent_messages(CHAT)
    assert utf16(sent["_plain"]) <= 4096 and sent["_plain"].endswith("…")
    assert "clipped" in caplog.text  # a renderer missed a cap: the log says so
