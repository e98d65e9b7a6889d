"""The outbox -> Telegram: the real python-telegram-bot against the fake Bot API server.

What the fake observed is the evidence: every request it answered, with its
arrival time, so rates, counts and duplicates are measured where Telegram
would see them.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import outbox_rows
from fakes.bot_api import FakeBotAPI
from telegram import Bot
from telegram.error import ChatMigrated
from test_ratelimit import max_in_window

from monitor.core.config import TelegramConfig
from monitor.core.logsetup import setup_logging
from monitor.core.models import Article, Hit, OutboxMessage
from monitor.delivery.msglimit import utf16_len
from monitor.delivery.ratelimit import Limits, RateLimiter, SendGate
from monitor.delivery.render import TELEGRAM_LIMIT, alert_payload
from monitor.delivery.telegram import TelegramSink
from monitor.matching.library import WatchlistLibrary
from monitor.pipeline.cycle import deliver
from monitor.pipeline.digestjob import queue_digest
from monitor.pipeline.runtime import Runtime
from monitor.storage import Store

CHAT = "424242"
OTHER = "515151"
TZ = ZoneInfo("America/Mexico_City")
FAST = Limits().scaled(0.01)  # the shape of Telegram's limits on a clock 100 times faster


def make_runtime(config, clock, fake, limits=FAST) -> Runtime:
    config = replace(config, telegram=TelegramConfig(base_url=fake.base_url))
    sink = TelegramSink(Bot(fake.token, base_url=fake.base_url), SendGate(RateLimiter(limits)), TZ)
    return Runtime(
        config=config,
        store=Store(config.storage.path),
        library=WatchlistLibrary(config.watchlists.path),
        sinks=[sink],
        telegram_enabled=True,
        clock=clock,
    )


async def drain(rt: Runtime):
    sink = rt.sinks[0]
    await sink.start()
    try:
        return await deliver(rt)
    finally:
        await sink.close()


def article(n: int, title: str | None = None, **fields) -> Article:
    return Article(
        id=f"a{n}",
        feed_url="https://example.org/feed",
        url=f"https://example.org/story/{n}?x=1&y=2",
        title=title or f"Story number {n} about DEA immunity",
        summary="Foreign agents lose immunity.",
        published_at=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
        **{"source": "Wire", **fields},
    )


def queue_alert(rt: Runtime, chat: str, art: Article, term="DEA immunity", snippet=None) -> None:
    hit = Hit(art.id, "sample", "dea-immunity", term, 100.0, snippet or art.title, "title", "high")
    payload = alert_payload(art, [hit], rt.library.topic_titles())
    payload["timezone"] = "America/Mexico_City"
    assert rt.store.enqueue(chat, "alert", f"alert:{chat}:{art.id}", payload, rt.clock())


def entity_texts(plain: str, entities: list[dict], kind: str) -> list[str]:
    """The text under each entity of `kind` (offsets count UTF-16 units, as Telegram's do)."""
    units = plain.encode("utf-16-le")
    return [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in entities
        if e["type"] == kind
    ]


def sends(fake: FakeBotAPI, chat: str | None = None):
    return [
        c
        for c in fake.calls_to("sendMessage")
        if chat is None or str(c.params.get("chat_id")) == chat
    ]


def test_alert_fields_are_escaped_and_arrive_intact(config, clock, fake):
    rt = make_runtime(config, clock, fake)
    title = "AT&T <-> Pemex: 5 < 6 & 7 > 2 as DEA immunity ends"
    art = article(1, title=title, source="Noticias <MX> & Co")
    queue_alert(rt, CHAT, art, snippet=f"… {title} …")
    report = asyncio.run(drain(rt))
    assert report.sent == 1
    [sent] = fake.sent_messages(CHAT)
    assert sent["parse_mode"] == "HTML"
    assert title in sent["_plain"] and "Noticias <MX> & Co" in sent["_plain"]
    assert "2026-11-20 06:00 CST" in sent["_plain"]  # published time in the chat's zone
    message = fake.get_message(CHAT, sent["_message_id"])
    links = [e for e in message["entities"] if e["type"] == "text_link"]
    assert links[0]["url"] == art.url  # the &amp; in href came back as &
    bold = entity_texts(sent["_plain"], message["entities"], "bold")
    assert bold[-2:] == ["DEA", "immunity"]  # the matched term, in bold in the snippet
    assert outbox_rows(rt.store)[0]["status"] == "sent"


def test_long_digest_is_split_on_entry_boundaries(config, clock, fake):
    config = replace(config, digest=replace(config.digest, max_per_topic=100))  # no cap here
    rt = make_runtime(config, clock, fake)
    store = rt.store
    arts = [article(n, title=f"Story {n:03d} " + "on DEA immunity " * 8) for n in range(80)]
    store.add_new_articles("https://example.org/feed", arts, clock.now)
    hits = [
        Hit(
            a.id,
            "sample",
            "dea-immunity",
            "DEA immunity",
            100.0,
            f"snip {a.id} DEA immunity",
            "title",
            "high",
        )
        for a in arts
    ]
    store.add_hits(hits, clock.now)
    clock.advance(hours=1)
    parts = queue_digest(rt, CHAT, clock.now, "America/Mexico_City")
    assert parts >= 3
    report = asyncio.run(drain(rt))
    assert report.sent == parts and report.failed == 0
    sent = fake.sent_messages(CHAT)
    assert all(utf16_len(m["_plain"]) <= TELEGRAM_LIMIT for m in sent)  # as Telegram counts
    assert [m["_plain"].rstrip().endswith(f"({i}/{parts})") for i, m in enumerate(sent, 1)] == [
        True
    ] * parts  # in order
    everything = "\n".join(m["_plain"] for m in sent)
    for a in arts:  # every entry whole, in exactly one part
        assert everything.count(a.title.strip()) == 1
    assert all(m["link_preview_options"] == {"is_disabled": True} for m in sent)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_429_then_success_loses_and_repeats_nothing(config, clock, fake):
    rt = make_runtime(config, clock, fake)
    for n in range(5):
        queue_alert(rt, CHAT, article(n))
    fake.fail_next("sendMessage", 429, retry_after=1)

    first = asyncio.run(drain(rt))
    assert (first.sent, first.retried, first.failed) == (0, 1, 0)
    rows = outbox_rows(rt.store)
    assert [r["status"] for r in rows] == ["pending"] * 5  # nothing lost, the rest held back
    head = rows[0]["next_attempt_at"]  # the head waits; the rows behind it wait behind it
    assert head >= (clock.now + timedelta(seconds=1)).isoformat(timespec="seconds")
    assert asyncio.run(drain(rt)).sent == 0  # not before retry_after

    third = "616161"  # queued after the 429: the whole bot waits out retry_after
    queue_alert(rt, third, article(8))
    clock.advance(seconds=1)
    asyncio.run(drain(rt))
    assert asyncio.run(drain(rt)).sent == 0  # a third drain finds nothing to send

    assert [r["status"] for r in outbox_rows(rt.store)] == ["sent"] * 6
    texts = [m["_plain"] for m in fake.sent_messages(CHAT)]
    assert len(texts) == len(set(texts)) == 5  # each exactly once ...
    assert [f"Story number {n} about" in t for n, t in enumerate(texts)] == [True] * 5  # in order
    refused = next(c for c in sends(fake) if c.status == 429)
    later = [c.time for c in sends(fake, CHAT) + sends(fake, third) if c.time > refused.time]
    assert len(later) == 6 and min(later) - refused.time >= 1.0  # retry_after honoured
    print(f"429: next request {min(later) - refused.time:.2f}s after the refusal")


@pytest.mark.parametrize(
    ("how", "reason"),
    [("blocked", "bot was blocked by the user"), ("gone", "Chat not found")],
)
def test_blocked_or_vanished_chat_is_paused_and_not_retried(config, clock, fake, how, reason):
    rt = make_runtime(config, clock, fake)
    for chat in (CHAT, OTHER):
        rt.store.subscribe(chat, "sample", [], clock.now)
    for n in range(3):
        queue_alert(rt, CHAT, article(n))
    if how == "blocked":  # only CHAT refuses, so OTHER may share the drain
        fake.block_chat(CHAT)
        queue_alert(rt, OTHER, article(7))
    else:  # the next request fails, whoever it is for: CHAT's must be the only one
        fake.fail_next("sendMessage", 400, "Bad Request: chat not found")

    report = asyncio.run(drain(rt))
    assert report.failed == 1
    assert len(sends(fake, CHAT)) == 1 and not sends(fake, CHAT)[0].ok  # one try only
    assert {s.chat_id for s in rt.store.subscriptions(active_only=True)} == {OTHER}
    assert rt.store.chat(CHAT)["blocked_at"] is not None
    failed = [r for r in outbox_rows(rt.store) if r["chat_id"] == CHAT]
    assert [r["status"] for r in failed] == ["failed"] * 3
    assert reason in failed[0]["error"]

    if how != "blocked":
        queue_alert(rt, OTHER, article(7))
    clock.advance(hours=2)
    asyncio.run(drain(rt))
    assert len(sends(fake, CHAT)) == 1  # never tried again
    [other] = fake.sent_messages(OTHER)  # and the other chat is not held up
    assert "Story number 7" in other["_plain"]


def test_malformed_message_is_failed_with_the_reason_not_retried(config, clock, fake):
    rt = make_runtime(config, clock, fake)
    rt.store.enqueue(CHAT, "digest", "digest:x", {"text": "<b>unclosed"}, clock.now)
    queue_alert(rt, CHAT, article(1))
    report = asyncio.run(drain(rt))
    assert (report.sent, report.failed) == (1, 1)
    bad = outbox_rows(rt.store, "digest")[0]
    assert bad["status"] == "failed" and "parse entities" in bad["error"].lower()
    clock.advance(hours=1)
    asyncio.run(drain(rt))
    assert len(sends(fake)) == 2  # the bad one was tried once
    assert rt.store.subscriptions() == [] or all(not s.paused for s in rt.store.subscriptions())


def test_server_errors_and_network_errors_are_retried_with_backoff(config, clock, fake):
    rt = make_runtime(config, clock, fake)
    queue_alert(rt, CHAT, article(1))
    fake.fail_next("sendMessage", 502)
    first = asyncio.run(drain(rt))
    assert first.retried == 1
    row = outbox_rows(rt.store)[0]
    assert row["status"] == "pending" and row["attempts"] == 1 and "Bad Gateway" in row["error"]
    assert row["next_attempt_at"] == (clock.now + timedelta(seconds=5)).isoformat()
    assert asyncio.run(drain(rt)).sent == 0  # not due yet
    clock.advance(seconds=5)
    assert asyncio.run(drain(rt)).sent == 1
    assert len(fake.sent_messages(CHAT)) == 1

    # nothing listening at all: a network error, retried too
    offline = replace(
        rt, sinks=[TelegramSink(Bot(fake.token, base_url="http://127.0.0.1:9/bot"), SendGate(), TZ)]
    )
    queue_alert(offline, CHAT, article(2))
    report = asyncio.run(deliver(offline))
    assert report.retried == 1 and outbox_rows(rt.store)[-1]["status"] == "pending"


def test_restart_sends_pending_rows_exactly_once(config, clock, fake):
    before = make_runtime(config, clock, fake)
    for n in range(4):
        queue_alert(before, CHAT, article(n))
    queue_alert(before, OTHER, article(5))
    before.store.close()  # the crash: nothing was drained
    del before

    after = make_runtime(config, clock, fake)  # the restarted worker, same database
    assert asyncio.run(drain(after)).sent == 5
    assert asyncio.run(drain(after)).sent == 0
    clock.advance(hours=3)
    assert asyncio.run(drain(after)).sent == 0
    assert len(fake.sent_messages(CHAT)) == 4 and len(fake.sent_messages(OTHER)) == 1
    assert len(sends(fake)) == 5  # and not one request more


def test_burst_of_100_alerts_to_one_chat_keeps_the_per_chat_rate(config, clock, fake):
    rt = make_runtime(config, clock, fake, limits=Limits().scaled(0.005))  # 5 ms apart
    for n in range(100):
        queue_alert(rt, CHAT, article(n))
    report = asyncio.run(drain(rt))
    assert report.sent == 100
    times = [c.time for c in sends(fake, CHAT)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == 100
    assert min(gaps) >= 0.005  # as observed by the server
    assert max_in_window(times, 0.005) == 1
    print(f"burst: 100 messages in {times[-1] - times[0]:.2f}s, min gap {min(gaps) * 1000:.1f} ms")


def test_group_burst_keeps_twenty_per_window(config, clock, fake):
    rt = make_runtime(config, clock, fake, limits=Limits().scaled(0.01))  # 20 per 0.6 s
    group = "-100777"
    for n in range(30):
        queue_alert(rt, group, article(n))
    assert asyncio.run(drain(rt)).sent == 30
    times = [c.time for c in sends(fake, group)]
    assert max_in_window(times, 0.6) == 20
    assert times[20] - times[0] >= 0.6
    print(f"group: 30 messages in {times[-1] - times[0]:.2f}s, at most 20 in any 0.6 s")


def test_many_chats_keep_the_global_rate(config, clock, fake):
    rt = make_runtime(config, clock, fake, limits=Limits().scaled(0.1))  # 30 per 100 ms
    for chat in range(100):
        queue_alert(rt, str(1000 + chat), article(chat))
    assert asyncio.run(drain(rt)).sent == 100
    times = [c.time for c in sends(fake)]
    assert max_in_window(times, 0.1) <= 30
    assert times[-1] - times[0] >= 0.3  # 100 messages need three full windows
    print(
        f"global: 100 chats in {times[-1] - times[0]:.2f}s, "
        f"at most {max_in_window(times, 0.1)} in any 0.1 s"
    )


def test_chat_migrated_to_a_supergroup_is_followed():
    moved: list[tuple[str, str]] = []

    class MigratingBot:
        def __init__(self) -> None:
            self.sent: list[int | str] = []

        async def send_message(self, chat_id, **kwargs):
            if chat_id == -5:
                raise ChatMigrated(-1005)
            self.sent.append(chat_id)

    bot = MigratingBot()
    sink = TelegramSink(
        bot, SendGate(RateLimiter(FAST)), TZ, on_migrated=lambda *ids: moved.append(ids)
    )  # type: ignore[arg-type]
    message = OutboxMessage(1, "-5", "digest", "digest:-5:x", {"text": "hello"})
    asyncio.run(sink.send(message))
    assert moved == [("-5", "-1005")] and bot.sent == [-1005]


def test_token_never_reaches_the_log_with_debug_logging(fake, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    chatty = ("httpx", "httpcore", "telegram")
    for name in chatty:  # as talkative as they get: httpx logs every request URL
        logging.getLogger(name).setLevel(logging.DEBUG)

    async def scenario():
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            await bot.send_message(CHAT, "hello")

    try:
        asyncio.run(scenario())
        try:
            raise RuntimeError(f"a library quoting {fake.base_url}{fake.token}/getMe")
        except RuntimeError:
            logging.getLogger("monitor.test").exception("failed on purpose")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name in chatty:
            logging.getLogger(name).setLevel(logging.NOTSET)
    text = stream.getvalue()
    assert "sendMessage" in text and "failed on purpose" in text
    assert text.count("<token>") >= 3  # getMe, sendMessage and the traceback, masked
    assert fake.token not in text and fake.token.split(":")[1] not in text


def test_shutdown_never_cuts_a_send_between_answer_and_mark_sent(config, clock):
    class SlowSink:
        name = "slow"

        def __init__(self) -> None:
            self.sent: list[int] = []

        def accepts(self, chat_id: str) -> bool:
            return True

        async def send(self, message: OutboxMessage) -> None:
            await asyncio.sleep(0.2)  # Telegram takes its time to answer
            self.sent.append(message.id)

    sink = SlowSink()
    rt = Runtime(
        config=config,
        store=Store(config.storage.path),
        library=WatchlistLibrary(config.watchlists.path),
        sinks=[sink],
        clock=clock,
    )
    for n in range(2):
        queue_alert(rt, CHAT, article(n))

    async def scenario():
        job = asyncio.create_task(deliver(rt))  # as the scheduler runs it
        await asyncio.sleep(0.05)
        rt.drain.stopping = True  # SIGTERM: the scheduler cancels its jobs
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        while rt.drain.active:  # what stop_telegram waits for
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert [r["status"] for r in outbox_rows(rt.store)] == ["sent", "pending"]
    assert sink.sent == [1]  # the one in flight finished and was recorded; no more started


def test_an_alert_is_rendered_when_queued_and_sent_as_queued(config, clock, fake):
    """What the outbox row holds is what Telegram gets, in the chat's own zone; a row
    queued by an older version (no text) is still rendered at send time."""
    from monitor.pipeline.alerts import queue_alerts

    rt = make_runtime(config, clock, fake)
    rt.store.subscribe(CHAT, "sample", [], clock.now)
    rt.store.update_chat(CHAT, clock.now, timezone="Asia/Tokyo")
    art = article(1)
    hit = Hit(art.id, "sample", "dea-immunity", "DEA immunity", 100.0, art.title, "title", "high")
    assert queue_alerts(rt, [art], [hit], clock.now) == 1
    [row] = outbox_rows(rt.store)
    queued_text = json.loads(row["payload"])["text"]
    assert "2026-11-20 21:00 JST" in queued_text  # rendered for the chat's zone, at queue time
    queue_alert(rt, CHAT, article(2))  # the old shape: fields only
    assert asyncio.run(drain(rt)).sent == 2
    first, second = fake.sent_messages(CHAT)
    assert first["text"] == queued_text
    assert "Story number 2" in second["_plain"]
