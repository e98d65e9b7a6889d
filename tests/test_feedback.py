"""Relevance feedback through the real python-telegram-bot and the fake Bot API: 👍 / 👎
under alerts and digest entries, stored per hit and chat, acknowledged, ticked."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from conftest import rss
from fakes.bot_api import FakeBotAPI
from fakes.feed_server import FeedServer, Route
from test_bot import CHAT, ITEMS, OPS_WATCHLIST, OTHER, make_runtime, running_bot

from monitor.core.config import FeedConfig, TelegramConfig
from monitor.digests.feedback import CHOSEN, mark_choice, parse_vote, vote_data
from monitor.pipeline.cycle import poll_cycle
from monitor.pipeline.scheduler import run_chat_digest


@pytest.fixture
def telegram_config(config, sample_watchlists, fake):
    """As in test_bot: the sample and ops watchlists, one feed, the fake Bot API."""
    (sample_watchlists / "ops.toml").write_text(OPS_WATCHLIST, encoding="utf-8")
    with FeedServer() as feeds:
        url = feeds.set("/wire.xml", Route(body=rss(ITEMS)))
        yield replace(
            config,
            feeds=(FeedConfig(url=url, name="Wire"),),
            telegram=TelegramConfig(base_url=fake.base_url),
        )


async def vote(
    fake: FakeBotAPI, chat: int, data: str, message_id: int, ticked: bool = True
) -> dict:
    """Press a button; wait for the bot's answer to the callback query (and, for a vote
    that counted, the keyboard edit) and return the answer."""
    answers = len(fake.callback_answers())
    edits = len(fake.calls_to("editMessageReplyMarkup"))
    fake.push_callback_query(chat, data, message_id)
    assert await fake.wait_for_async(lambda: len(fake.callback_answers()) > answers)
    if ticked and "show_alert" not in fake.callback_answers()[-1]:
        assert await fake.wait_for_async(
            lambda: len(fake.calls_to("editMessageReplyMarkup")) > edits
        )
    return fake.callback_answers()[-1]


def keyboard(fake: FakeBotAPI, chat: int, message_id: int) -> list[list[str]]:
    rows = fake.get_message(chat, message_id)["reply_markup"]["inline_keyboard"]
    return [[b["text"] for b in row] for row in rows]


def test_alert_buttons_store_change_and_tick_the_vote(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)
    rt.store.subscribe(str(CHAT), "sample", ["dea-immunity"], clock.now)

    async def scenario():
        async with running_bot(rt, fake):
            await poll_cycle(rt)
            [alert] = fake.sent_messages(CHAT)
            mid = alert["_message_id"]
            up, down = (b["callback_data"] for b in alert["reply_markup"]["inline_keyboard"][0])
            said_down = await vote(fake, CHAT, down, mid)
            after_down = rt.store.votes(str(CHAT)), keyboard(fake, CHAT, mid)
            said_up = await vote(fake, CHAT, up, mid)
            after_up = rt.store.votes(str(CHAT)), keyboard(fake, CHAT, mid)
            stale = await vote(fake, CHAT, "vote:r:999999-AAAAAAAAAAA", mid)
            return said_down, after_down, said_up, after_up, stale

    said_down, (votes, keys), said_up, (votes_up, keys_up), stale = asyncio.run(scenario())
    assert said_down["text"].startswith("Thanks: marked not relevant")
    [stored] = votes
    assert stored["vote"] == "not_relevant" and stored["chat_id"] == str(CHAT)
    [alerted] = [a for a in rt.store.articles_since(clock.now) if "DEA" in a.title]
    hit = rt.store.hit_ids(alerted.id, [("sample", "dea-immunity")])
    assert stored["hit_id"] == hit[0]  # only the hit this chat was alerted about
    assert keys == [["👍 relevant", "✅ 👎 not relevant"]]
    assert said_up["text"] == "Thanks: marked relevant."
    assert [v["vote"] for v in votes_up] == ["relevant"]  # changed, not added
    assert keys_up == [["✅ 👍 relevant", "👎 not relevant"]]
    assert stale["show_alert"] is True and "expired" in stale["text"]
    assert len(rt.store.votes()) == 1


def test_digest_entries_each_have_their_own_buttons(telegram_config, clock, fake):
    """Two stories, one of them on two topics: two entries (the first "also in" the other
    topic), each with its own buttons; a vote lands on that story's hits only."""
    second = {"title": "Sheinbaum visits Sonora", "link": "https://example.org/b", "guid": "b"}
    with FeedServer() as feeds:
        url = feeds.set("/both.xml", Route(body=rss([*ITEMS, second])))
        config = replace(telegram_config, feeds=(FeedConfig(url=url, name="Wire"),))
        rt = make_runtime(config, clock, fake)
        rt.store.subscribe(str(CHAT), "sample", [], clock.now)

        async def scenario():
            async with running_bot(rt, fake):
                await poll_cycle(rt)
                clock.advance(hours=1)
                await run_chat_digest(rt, str(CHAT))
                [digest] = [m for m in fake.sent_messages(CHAT) if m["_plain"].startswith("Digest")]
                rows = digest["reply_markup"]["inline_keyboard"]
                await vote(fake, CHAT, rows[1][1]["callback_data"], digest["_message_id"])
                return digest, keyboard(fake, CHAT, digest["_message_id"])

        digest, keys = asyncio.run(scenario())
    text = digest["_plain"]
    assert "1. DEA immunity ends" in text and "2. Sheinbaum visits Sonora" in text
    assert text.count("DEA immunity ends") == 1 and "also in: Claudia Sheinbaum" in text
    assert keys == [
        ["1. 👍 relevant", "1. 👎 not relevant"],
        ["2. 👍 relevant", CHOSEN + "2. 👎 not relevant"],
    ]
    [stored] = rt.store.votes(str(CHAT))
    voted = next(r for r in rt.store.hits_after(0) if r["hit_id"] == stored["hit_id"])
    assert (voted["topic"], voted["title"]) == ("sheinbaum", "Sheinbaum visits Sonora")


def test_a_vote_from_a_chat_not_allowed_is_declined(telegram_config, clock, fake):
    config = replace(
        telegram_config,
        telegram=TelegramConfig(base_url=fake.base_url, allowed_chats=(CHAT,)),
    )
    rt = make_runtime(config, clock, fake)
    token = rt.store.add_vote_target([1], str(OTHER), clock.now)

    async def scenario():
        async with running_bot(rt, fake):
            return await vote(fake, OTHER, vote_data("relevant", token), 1, ticked=False)

    answer = asyncio.run(scenario())
    assert answer["text"] == "This chat is not allowed to use this bot."
    assert rt.store.votes() == []


@pytest.mark.parametrize(
    "data, expected",
    [
        ("vote:r:17-Xb3_k-9aQ0c", ("relevant", "17-Xb3_k-9aQ0c")),
        ("vote:n:3-abc", ("not_relevant", "3-abc")),
        ("vote:r:17", None),  # m003's bare numbers: forgeable, no longer accepted
        ("vote:x:3", None),
        ("vote:r:", None),
        ("sub:sample", None),
        ("vote:r:1" + "0" * 20 + "-abc", None),
        ("vote:r:1-" + "a" * 17, None),
    ],
)
def test_callback_data_is_parsed_strictly(data, expected):
    assert parse_vote(data) == expected


def test_mark_choice_touches_only_the_pressed_row():
    markup = {
        "inline_keyboard": [
            [{"text": "1. 👍 relevant", "callback_data": "vote:r:5-a"}],
            [
                {"text": "2. 👍 relevant", "callback_data": "vote:r:6-b"},
                {"text": "✅ 2. 👎 not relevant", "callback_data": "vote:n:6-b"},
            ],
        ]
    }
    marked = mark_choice(markup, "6-b", "relevant")
    texts = [[b["text"] for b in row] for row in marked["inline_keyboard"]]
    assert texts == [["1. 👍 relevant"], ["✅ 2. 👍 relevant", "2. 👎 not relevant"]]


def test_an_unknown_button_is_answered_so_the_spinner_stops(telegram_config, clock, fake):
    rt = make_runtime(telegram_config, clock, fake)

    async def scenario():
        async with running_bot(rt, fake):
            return await vote(fake, CHAT, "menu:old-layout", 1, ticked=False)

    answer = asyncio.run(scenario())
    assert answer["text"].startswith("This button no longer works")
    assert fake.sent_messages(CHAT) == []  # no "Sorry, that failed"


def test_a_stored_vote_is_never_followed_by_sorry(telegram_config, clock, fake):
    """The keyboard edit fails (a 500 here): the vote was stored and confirmed, so the chat
    hears nothing more; the failure is logged."""
    rt = make_runtime(telegram_config, clock, fake)
    rt.store.subscribe(str(CHAT), "sample", ["dea-immunity"], clock.now)

    async def scenario():
        async with running_bot(rt, fake):
            await poll_cycle(rt)
            [alert] = fake.sent_messages(CHAT)
            up = alert["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            fake.fail_next("editMessageReplyMarkup", 500)
            said = await vote(fake, CHAT, up, alert["_message_id"], ticked=False)
            await asyncio.sleep(0.5)
            return said, fake.sent_messages(CHAT)

    said, sent = asyncio.run(scenario())
    assert said["text"].startswith("Thanks: marked relevant")
    assert [v["vote"] for v in rt.store.votes(str(CHAT))] == ["relevant"]
    assert not any("Sorry" in m["_plain"] for m in sent)
