"""The bot, end to end: python-telegram-bot polling the fake Bot API, feeds from the fake
feed server, the worker's real poll cycle in between.

Each test pushes what a user would type (`fake.push_message`, `push_callback_query`)
and asserts on what the fake server received.
"""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from conftest import outbox_counts, outbox_rows, prime_database, prime_feeds, rss
from fakes.bot_api import FakeBotAPI
from fakes.feed_server import FeedServer, Route

from monitor.bot.app import build_application, start_bot, stop_bot
from monitor.cli.botmode import build_telegram_runtime, telegram_sink
from monitor.cli.run import poll_once, run_worker
from monitor.core.config import FeedConfig, TelegramConfig
from monitor.core.models import Article
from monitor.delivery.ratelimit import Limits
from monitor.pipeline.chats import digest_missed, queue_chat_digest
from monitor.pipeline.cycle import deliver, poll_cycle, sync_config_feeds
from monitor.pipeline.runtime import Runtime
from monitor.pipeline.scheduler import build_scheduler, run_chat_digest
from monitor.storage import SNIPPET_CLOSE, SNIPPET_OPEN, Store, fts_query

CHAT = 424242
OTHER = 515151
ADMIN = 777
FAST = Limits().scaled(0.01)

OPS_WATCHLIST = """\
[watchlist]
id = "ops"
title = "Unilateral operations"

[[topics]]
id = "unilateral"
title = "US unilateral operations"
priority = "high"
terms = ["unilateral operation", "unilateral strike"]
"""

ITEMS = [
    {
        "title": "DEA immunity ends as US weighs a unilateral operation",
        "link": "https://example.org/a",
        "guid": "a",
        "description": "Sheinbaum says foreign agents lose immunity.",
        "pubDate": "Fri, 20 Nov 2026 12:00:00 GMT",
    },
    {"title": "Weather in Mérida stays sunny", "link": "https://example.org/c", "guid": "c"},
]


@pytest.fixture
def feeds():
    with FeedServer() as server:
        yield server


@pytest.fixture
def telegram_config(config, sample_watchlists, fake, feeds):
    (sample_watchlists / "ops.toml").write_text(OPS_WATCHLIST, encoding="utf-8")
    url = feeds.set("/wire.xml", Route(body=rss(ITEMS)))
    return replace(
        config,
        feeds=(FeedConfig(url=url, name="Wire"),),
        telegram=TelegramConfig(base_url=fake.base_url, admins=(ADMIN,)),
    )


def make_runtime(telegram_config, clock, fake) -> Runtime:
    rt = build_telegram_runtime(telegram_config, fake.token, limits=FAST)
    rt.clock = clock
    sync_config_feeds(rt)
    prime_feeds(rt.store)  # items are news, not a first fetch's backlog
    return rt


@asynccontextmanager
async def running_bot(rt: Runtime, fake: FakeBotAPI):
    sink = telegram_sink(rt)
    await sink.start()
    app = build_application(rt, fake.token, sink.gate)
    await start_bot(app, poll_timeout=0.2)
    try:
        yield app
    finally:
        await stop_bot(app)
        await sink.close()


async def ask(fake: FakeBotAPI, chat: int, text: str, replies: int = 1, **kwargs) -> list[dict]:
    """Type `text` in `chat`; wait for the bot's `replies` messages and return them."""
    before = len(fake.sent_messages(chat))
    fake.push_message(chat, text, **kwargs)
    assert await fake.wait_for_async(lambda: len(fake.sent_messages(chat)) >= before + replies)
    await asyncio.sleep(0.02)  # a reply too many would show up here
    return fake.sent_messages(chat)[before:]


async def press(fake: FakeBotAPI, chat: int, data: str, message_id: int) -> list[dict]:
    before = len(fake.sent_messages(chat))
    fake.push_callback_query(chat, data, message_id)
    assert await fake.wait_for_async(lambda: len(fake.sent_messages(chat)) > before)
    return fake.sent_messages(chat)[before:]


def test_subscribe_flow_from_start_to_one_alert_after_a_poll(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)

    async def scenario():
        async with running_bot(rt, fake):
            [welcome] = await ask(fake, CHAT, "/start")
            assert "News monitor" in welcome["_plain"] and "07:30" in welcome["_plain"]
            buttons = [b[0]["callback_data"] for b in welcome["reply_markup"]["inline_keyboard"]]
            assert buttons == ["sub:ops", "sub:sample"]

            [lists] = await ask(fake, CHAT, "/watchlists")
            assert "dea-immunity" in lists["_plain"] and "unilateral" in lists["_plain"]

            [done] = await press(fake, CHAT, "sub:sample", welcome["_message_id"])
            assert "Subscribed to sample (all topics)" in done["_plain"]
            [done] = await ask(fake, CHAT, "/subscribe ops unilateral,")
            assert "Subscribed to ops (unilateral)" in done["_plain"]
            await ask(fake, OTHER, "/subscribe ops")

            report = await poll_cycle(rt)  # the worker's poll, in the bot's loop
            assert report.alerts_queued == 2 and report.delivery.sent == 2
            await poll_cycle(rt)  # nothing new: nothing sent again
            [mine] = fake.sent_messages(CHAT)[-1:]
            [theirs] = fake.sent_messages(OTHER)[-1:]
            return mine, theirs

    mine, theirs = asyncio.run(scenario())
    assert fake.callback_answers()  # the button was acknowledged
    # two high-priority topics of one article: one alert naming both
    headline = mine["_plain"].splitlines()[0]
    assert headline.startswith("🔔 ") and sorted(headline[2:].split(", ")) == [
        "DEA immunity",
        "US unilateral operations",
    ]
    assert "DEA immunity ends as US weighs a unilateral operation" in mine["_plain"]
    assert "Wire · 2026-11-20 06:00 CST" in mine["_plain"]
    assert theirs["_plain"].startswith("🔔 US unilateral operations\n")  # only what they follow
    alerts = [m for m in fake.sent_messages() if m["_plain"].startswith("🔔")]
    assert len(alerts) == 2
    commands = [c["command"] for c in fake.commands()]
    assert "subscribe" in commands and "status" not in commands
    admin_scope = {"type": "chat", "chat_id": ADMIN}
    assert "status" in [c["command"] for c in fake.commands(admin_scope)]


def test_bad_arguments_and_unknown_commands_get_a_short_answer(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)
    cases = {
        "/subscribe nosuch": "There is no watchlist “nosuch”. Available: ops, sample.",
        "/subscribe sample nosuch": "“sample” has no topic nosuch",
        "/unsubscribe sample": "You are not subscribed to “sample”",
        "/mute": "Usage: /mute <hours>",
        "/mute soon": "A number from 1 to 720",
        "/mute 0": "A number from 1 to 720",
        "/mute 10000": "A number from 1 to 720",
        "/digesttime 25:00": "“25:00” is not a time",
        "/digesttime 07:30 Mars/Olympus_Mons": "not an IANA time zone",
        "/recent 99": "Give a number from 1 to 20",
        "/recent many": "Give a number from 1 to 20",
        "/search": "Search for what?",
        "/digest": "You have no subscriptions yet",
        "/frobnicate now": "I don't know /frobnicate. /help lists what I can do.",
        "just saying hello": "I answer commands",
    }

    async def scenario():
        async with running_bot(rt, fake):
            return {text: (await ask(fake, CHAT, text))[0]["_plain"] for text in cases}

    answers = asyncio.run(scenario())
    for text, expected in cases.items():
        assert expected in answers[text], (text, answers[text])
    assert not any("Traceback" in a for a in answers.values())
    assert rt.store.subscriptions() == []
    assert rt.store.chat(str(CHAT)) is None or rt.store.chat(str(CHAT))["muted_until"] is None


def test_allowed_chats_and_admins_are_enforced(telegram_config, clock, fake):
    config = replace(
        telegram_config,
        telegram=replace(telegram_config.telegram, allowed_chats=(CHAT,)),
    )
    rt = make_runtime(config, clock, fake)

    async def scenario():
        async with running_bot(rt, fake):
            [refused] = await ask(fake, OTHER, "/subscribe sample")
            [admin_anywhere] = await ask(fake, ADMIN, "/status")
            [not_admin] = await ask(fake, CHAT, "/status")
            [group] = await ask(fake, -100999, "/start", chat_type="supergroup", user_id=OTHER)
            fake.push_message(-100999, "chatter in a group", chat_type="supergroup", user_id=1)
            await asyncio.sleep(0.3)
            return refused, admin_anywhere, not_admin, group

    refused, admin_anywhere, not_admin, group = asyncio.run(scenario())
    assert f"this chat ({OTHER}) is not allowed" in refused["_plain"]
    assert "not allowed" in group["_plain"]
    assert len(fake.sent_messages(-100999)) == 1  # plain group chatter is not answered
    assert rt.store.subscriptions() == []
    assert admin_anywhere["_plain"].startswith("Status:")
    assert "no poll cycle has finished yet" in admin_anywhere["_plain"]
    assert "Feeds: 1 ok, 0 failing, 1 total" in admin_anywhere["_plain"]
    assert "Outbox: 0 pending, 0 failed" in admin_anywhere["_plain"]
    assert f"Your user id is {CHAT}" in not_admin["_plain"]


def test_digesttime_reschedules_and_alerts_use_the_chat_zone(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)

    async def scenario():
        scheduler = build_scheduler(rt)
        scheduler.start(paused=True)  # its jobs are inspected, not run
        async with running_bot(rt, fake):
            await ask(fake, CHAT, "/subscribe sample")
            default = scheduler.get_job(f"digest:{CHAT}").trigger
            [answer] = await ask(fake, CHAT, "/digesttime 18:05 Europe/Madrid")
            moved = scheduler.get_job(f"digest:{CHAT}").trigger
            [subs] = await ask(fake, CHAT, "/mysubs")
            await poll_cycle(rt)
            [alert] = fake.sent_messages(CHAT)[-1:]
            await ask(fake, CHAT, "/unsubscribe all")
            gone = scheduler.get_job(f"digest:{CHAT}")
        scheduler.shutdown(wait=False)
        return default, answer, moved, subs, alert, gone

    default, answer, moved, subs, alert, gone = asyncio.run(scenario())
    assert str(default) == "daily at 07:30 America/Mexico_City"
    assert str(moved) == "daily at 18:05 Europe/Madrid"
    assert "18:05 (Europe/Madrid); next: Fri 2026-11-20 18:05 CET" in answer["_plain"]
    assert "sample: all topics" in subs["_plain"]
    assert "2026-11-20 13:00 CET" in alert["_plain"]  # 12:00 UTC, in Madrid
    assert gone is None  # following nothing: no digest job


def test_scheduled_digest_once_per_local_date(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)
    rt.store.subscribe(str(CHAT), "sample", [], clock.now)
    rt.store.update_chat(str(CHAT), clock.now, timezone="Asia/Tokyo")

    async def scenario():
        async with running_bot(rt, fake):
            await poll_cycle(rt)
            clock.advance(hours=1)
            await run_chat_digest(rt, str(CHAT))
            clock.advance(hours=1)
            assert queue_chat_digest(rt, str(CHAT), clock.now) == 0  # same Tokyo date

    asyncio.run(scenario())
    digests = [m for m in fake.sent_messages(CHAT) if m["_plain"].startswith("Digest")]
    assert len(digests) == 1
    assert "2026-11-21" in digests[0]["_plain"]  # 16:00 UTC is already the 21st in Tokyo
    assert "DEA immunity ends" in digests[0]["_plain"]
    assert [r["dedupe_key"] for r in outbox_rows(rt.store, "digest")] == [
        f"digest:{CHAT}:2026-11-21"
    ]


def test_digest_recent_and_search_on_demand_without_flooding(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)
    rt.store.subscribe(str(OTHER), "sample", [], clock.now)

    async def scenario():
        async with running_bot(rt, fake):
            await poll_cycle(rt)  # hits arrive before CHAT subscribes
            await ask(fake, CHAT, "/subscribe sample")
            await poll_cycle(rt)
            pushed = len(fake.sent_messages(CHAT))
            [recent] = await ask(fake, CHAT, "/recent")
            [digest] = await ask(fake, CHAT, "/digest")
            [found] = await ask(fake, CHAT, "/search merida")
            [nasty] = await ask(fake, CHAT, '/search AND( "unbalanced NOT')
            [prefix] = await ask(fake, CHAT, "/search unilat*")
            return pushed, recent, digest, found, nasty, prefix

    pushed, recent, digest, found, nasty, prefix = asyncio.run(scenario())
    assert pushed == 1  # only the /subscribe answer: the backlog is not pushed
    assert "Latest 1 for your subscriptions" in recent["_plain"]
    assert "dea-immunity, sheinbaum" in recent["_plain"]  # one article, two topics, one item
    assert digest["_plain"].startswith("Digest for 2026-11-20")
    assert "Weather in Mérida stays sunny" in found["_plain"]  # accents folded
    assert "Nothing stored matches" in nasty["_plain"]
    assert "DEA immunity ends" in prefix["_plain"]
    assert outbox_rows(rt.store, "digest")[0]["dedupe_key"].startswith(f"digest-now:{CHAT}:")


def test_mute_holds_alerts_and_start_resumes_a_blocked_chat(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)

    async def scenario():
        async with running_bot(rt, fake):
            await ask(fake, CHAT, "/subscribe sample")
            [muted] = await ask(fake, CHAT, "/mute 8")
            await poll_cycle(rt)
            after_mute = len(fake.sent_messages(CHAT))
            held = [r["status"] for r in outbox_rows(rt.store, "alert")]
            clock.advance(hours=1)
            await deliver(rt)  # still muted: the alert waits
            still_held = len(fake.sent_messages(CHAT))
            [unmuted] = await ask(fake, CHAT, "/unmute")
            await deliver(rt)
            alerts = fake.sent_messages(CHAT)[still_held + 1 :]
            rt.store.pause_chat(str(CHAT), clock.now)  # as after a 403
            [back] = await ask(fake, CHAT, "/start")
            return muted, after_mute, held, still_held, unmuted, alerts, back

    muted, after_mute, held, still_held, unmuted, alerts, back = asyncio.run(scenario())
    assert "muted until 2026-11-20 17:00 CST" in muted["_plain"]
    assert "arrive when the mute ends" in muted["_plain"]
    assert after_mute == still_held == 2  # /subscribe and /mute answers; the alert waits
    assert held == ["held"]
    assert "1 alert held meanwhile follow" in unmuted["_plain"]
    assert len(alerts) == 1 and "DEA" in alerts[0]["_plain"]
    assert [r["status"] for r in outbox_rows(rt.store, "alert")] == ["sent"]
    assert back["_plain"].startswith("Welcome back: your 1 paused subscription(s)")
    assert [s.paused for s in rt.store.subscriptions(str(CHAT))] == [False]


def test_a_failing_handler_answers_one_line(telegram_config, clock, fake, monkeypatch):
    rt = make_runtime(telegram_config, clock, fake)

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(rt.store, "recent_hits", broken)

    async def scenario():
        async with running_bot(rt, fake):
            return (await ask(fake, CHAT, "/recent"))[0]

    answer = asyncio.run(scenario())
    assert answer["_plain"] == "Sorry, that failed on our side. Please try again in a minute."


def test_monitor_run_with_a_token_polls_alerts_and_stops_on_sigterm(
    telegram_config, fake, monkeypatch
):
    telegram_config = news_not_backlog(telegram_config)
    setup = Store(telegram_config.storage.path)
    setup.subscribe(str(CHAT), "sample", [], datetime.now(UTC))
    setup.enqueue(
        str(CHAT), "alert-test", "restart:1", {"text": "queued before"}, datetime.now(UTC)
    )
    setup.close()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)

    async def scenario():
        worker = asyncio.create_task(run_worker(telegram_config))
        got = await fake.wait_for_async(lambda: len(fake.sent_messages(CHAT)) >= 2, timeout=10)
        fake.push_message(ADMIN, "/status")  # another chat: not behind CHAT's 1 s spacing
        answered = await fake.wait_for_async(lambda: fake.sent_messages(ADMIN))
        os.kill(os.getpid(), signal.SIGTERM)
        return got, answered, await asyncio.wait_for(worker, timeout=10)

    got, answered, code = asyncio.run(scenario())
    assert got and answered and code == 0
    texts = [m["_plain"] for m in fake.sent_messages(CHAT)]
    assert texts[0] == "queued before"  # the pending row went out first, once
    assert texts.count("queued before") == 1
    assert any(t.startswith("🔔 DEA immunity") for t in texts)
    assert "Outbox: 0 pending" in fake.sent_messages(ADMIN)[0]["_plain"]
    gap = [c.time for c in fake.calls_to("sendMessage") if c.params["chat_id"] == CHAT]
    assert gap[1] - gap[0] >= 1.0  # the default limiter: a second apart in one chat
    print(f"monitor run: two messages to one chat {gap[1] - gap[0]:.2f}s apart")
    store = Store(telegram_config.storage.path)
    assert outbox_counts(store).get("pending", 0) == 0
    store.close()


@pytest.mark.parametrize(
    "words",
    [
        '"',
        "AND(",
        "NOT",
        "*",
        "a OR b",
        'x" OR "y',
        "NEAR(a b)",
        "col:title",
        "^start",
        "",
        "…",
        "-",
    ],
)
def test_search_never_chokes_on_what_users_type(store, clock, words):
    store.add_new_articles(
        "f", [Article("a1", "f", "https://e.org/1", "AT&T <-> Pemex: 5 < 6 & Mérida")], clock.now
    )
    store.index_new_articles()
    rows = store.search_articles(words)  # never an FTS syntax error
    assert rows == [] or rows[0]["id"] == "a1"


def test_search_matches_every_word_accents_folded(store, clock):
    store.add_new_articles(
        "f",
        [
            Article(
                "a1", "f", "https://e.org/1", "Iniciativa Mérida ends", "Bicentennial framework"
            ),
            Article("a2", "f", "https://e.org/2", "Merida weather"),
        ],
        clock.now,
    )
    store.index_new_articles()
    assert fts_query('AND( "x') == '"and" "x"'  # quoted: FTS syntax stays text
    assert [r["id"] for r in store.search_articles("merida bicentennial")] == ["a1"]
    assert {r["id"] for r in store.search_articles("MÉRIDA")} == {"a1", "a2"}
    snippet = store.search_articles("bicentennial")[0]["snippet"]
    assert f"{SNIPPET_OPEN}Bicentennial{SNIPPET_CLOSE}" in snippet


def test_search_folds_like_the_matcher_and_corrects_a_typo(store, clock):
    """Before: "cartel" missed "cartels", and "cárteles" and "sheinbuam" found nothing
    (issue 16, item 9)."""
    store.add_new_articles(
        "f",
        [
            Article("a1", "f", "https://e.org/1", "US weighs strikes on cartels"),
            Article("a2", "f", "https://e.org/2", "Sheinbaum rechaza ataques a cárteles"),
        ],
        clock.now,
    )
    store.index_new_articles()
    assert {r["id"] for r in store.search_articles("cartel")} == {"a1", "a2"}
    assert {r["id"] for r in store.search_articles("cárteles")} == {"a1", "a2"}
    assert store.search("sheinbaum")[0][0]["id"] == "a2"
    rows, corrected = store.search("sheinbuam")
    assert [r["id"] for r in rows] == ["a2"] and corrected == "sheinbaum"
    assert store.search("zzzzqqq") == ([], None)


def test_digest_missed_while_down_goes_out_at_start(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)  # 15:00 UTC = 09:00 in Mexico City
    rt.store.subscribe(str(CHAT), "sample", [], clock.now)
    assert not digest_missed(rt, str(CHAT), clock.now)  # never had one: wait for 07:30
    rt.store.update_chat(str(CHAT), clock.now, last_digest_at="2026-11-19T13:30:00+00:00")
    assert digest_missed(rt, str(CHAT), clock.now)  # yesterday's, and 07:30 passed today
    rt.store.update_chat(str(CHAT), clock.now, last_digest_at="2026-11-20T13:30:00+00:00")
    assert not digest_missed(rt, str(CHAT), clock.now)


def news_not_backlog(config):
    """The real clock runs here: the items (dated 20 November) are news whatever their age,
    and the feed has been fetched before."""
    prime_database(config.storage.path, [f.url for f in config.feeds])
    return replace(config, poll=replace(config.poll, alert_max_age_hours=0))


def test_poll_once_with_a_token_alerts_subscribers(telegram_config, fake, monkeypatch):
    telegram_config = news_not_backlog(telegram_config)
    store = Store(telegram_config.storage.path)
    store.subscribe(str(CHAT), "ops", [], datetime.now(UTC))
    store.close()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
    report, _signals = asyncio.run(poll_once(telegram_config))
    assert report.alerts_queued == 1 and report.delivery.sent == 1
    [alert] = fake.sent_messages(CHAT)
    assert alert["_plain"].startswith("🔔 US unilateral operations")


def test_topics_can_be_added_narrowed_and_removed_one_by_one(telegram_config, clock, fake):
    """Before: `/unsubscribe officials ken-salazar` answered "One watchlist at a time", and
    `/subscribe` with topics after a whole-watchlist subscription kept "all topics"."""
    rt = make_runtime(telegram_config, clock, fake)

    async def scenario():
        async with running_bot(rt, fake):
            said = []
            for text in (
                "/subscribe ops",
                "/subscribe sample sheinbaum",
                "/subscribe sample dea-immunity",
                "/unsubscribe sample sheinbaum",
                "/mysubs",
                "/unsubscribe sample dea-immunity",
                "/mysubs",
            ):
                [answer] = await ask(fake, CHAT, text)
                said.append(answer["_plain"])
            return said

    said = asyncio.run(scenario())
    assert "Subscribed to ops (all topics)" in said[0]
    assert "Subscribed to sample (sheinbaum)" in said[1]
    assert "Subscribed to sample (dea-immunity, sheinbaum)" in said[2]
    assert said[3] == "Still following sample: dea-immunity."
    assert "• sample: dea-immunity" in said[4] and "• ops: all topics" in said[4]
    assert said[5] == "Unsubscribed from sample: no topic of it was left."
    assert "sample" not in said[6]


def test_naming_topics_narrows_a_whole_watchlist_subscription(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)

    async def scenario():
        async with running_bot(rt, fake):
            await ask(fake, CHAT, "/subscribe sample")
            [narrowed] = await ask(fake, CHAT, "/subscribe sample sheinbaum")
            [removed] = await ask(fake, CHAT, "/unsubscribe ops unilateral")
            return narrowed["_plain"], removed["_plain"]

    narrowed, removed = asyncio.run(scenario())
    assert "Subscribed to sample (sheinbaum)" in narrowed
    assert "You are not subscribed to “ops”" in removed


def test_digesttime_off_stops_digests_and_a_fixed_offset_is_warned(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)
    rt.store.subscribe(str(CHAT), "sample", [], clock.now)

    async def scenario():
        async with running_bot(rt, fake):
            [off] = await ask(fake, CHAT, "/digesttime off")
            [subs] = await ask(fake, CHAT, "/mysubs")
            [est] = await ask(fake, CHAT, "/digesttime 08:00 EST")
            return off["_plain"], subs["_plain"], est["_plain"]

    off, subs, est = asyncio.run(scenario())
    assert off.startswith("Daily digests are off")
    assert "Daily digests are off" in subs
    assert "EST is a fixed offset that ignores daylight saving" in est
    assert "America/New_York" in est


def test_no_scheduled_digest_while_digests_are_off(telegram_config, clock, fake):
    from monitor.pipeline.chats import set_digest_time

    rt = make_runtime(telegram_config, clock, fake)
    rt.store.subscribe(str(CHAT), "sample", [], clock.now)
    set_digest_time(rt, str(CHAT), ["off"], clock.now)
    assert queue_chat_digest(rt, str(CHAT), clock.now) == 0
    set_digest_time(rt, str(CHAT), ["07:30"], clock.now)
    assert queue_chat_digest(rt, str(CHAT), clock.now) > 0
