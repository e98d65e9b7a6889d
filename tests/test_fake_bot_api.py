"""The fake Bot API server, exercised through the real python-telegram-bot over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import Application, CommandHandler, ContextTypes

try:
    from tests.fakes.bot_api import FakeBotAPI
except ModuleNotFoundError:  # tests/ on sys.path instead of the repo root
    from fakes.bot_api import FakeBotAPI

CHAT = 424242


def run_with_bot(fake: FakeBotAPI, scenario, **bot_kwargs):
    """asyncio.run(scenario(bot)) with an initialized Bot pointed at the fake."""

    async def main():
        async with Bot(fake.token, base_url=fake.base_url, **bot_kwargs) as bot:
            return await scenario(bot)

    return asyncio.run(main())


def raw_post(fake: FakeBotAPI, method: str, token: str | None = None, **kwargs) -> httpx.Response:
    url = f"{fake.base_url}{token or fake.token}/{method}"
    return httpx.post(url, timeout=5, **kwargs)


def retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after  # int today, timedelta with PTB_TIMEDELTA=1 / future PTB
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


# --------------------------------------------------------------------------- basics


def test_get_me_through_initialize(fake):
    async def scenario(bot):
        return bot.id, bot.username, bot.first_name

    assert run_with_bot(fake, scenario) == (123456, "news_monitor_test_bot", "News Monitor Test")
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/bot"
    [call] = fake.calls_to("getMe")
    assert call.status == 200 and call.ok and call.response["ok"] is True


def test_token_placeholder_base_url_works_too(fake):
    async def main():
        async with Bot(fake.token, base_url=fake.base_url + "{token}") as bot:
            return bot.username

    assert asyncio.run(main()) == "news_monitor_test_bot"


def test_wrong_token_is_unauthorized(fake):
    async def main():
        await Bot("999:WRONG", base_url=fake.base_url).initialize()

    with pytest.raises(InvalidToken):
        asyncio.run(main())
    assert fake.calls[-1].status == 401
    response = raw_post(fake, "getMe", token="999:WRONG")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_unknown_method_is_not_found(fake):
    response = raw_post(fake, "sendTelepathy", data={"chat_id": "1"})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}

    async def scenario(bot):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": 1})

    with pytest.raises(EndPointNotFound):
        run_with_bot(fake, scenario)


# --------------------------------------------------------------------------- sendMessage


def test_send_message_records_text_plain_and_markup(fake):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute:7")]])

    async def scenario(bot):
        first = await bot.send_message(
            CHAT,
            '<b>Alert</b> &amp; <a href="https://ex.com/a?b=1&amp;c=2">story</a> 1 &lt; 2',
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
        second = await bot.send_message(str(CHAT), "123")  # str chat id, JSON-looking text
        return first, second

    first, second = run_with_bot(fake, scenario)
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.chat.id == CHAT and first.chat.type == "private"
    assert first.text == "Alert & story 1 < 2"
    assert first.entities[0].type == "bold" and first.entities[0].length == 5
    assert first.entities[1].url == "https://ex.com/a?b=1&c=2"
    assert first.reply_markup == markup
    assert second.text == "123"

    sent = fake.sent_messages(CHAT)
    assert [m["_plain"] for m in sent] == ["Alert & story 1 < 2", "123"]
    assert sent[0]["text"].startswith("<b>Alert</b> &amp; ")
    assert sent[0]["parse_mode"] == "HTML"
    assert sent[0]["chat_id"] == CHAT  # JSON-decoded
    assert sent[0]["reply_markup"] == {
        "inline_keyboard": [[{"text": "Mute", "callback_data": "mute:7"}]]
    }
    assert sent[1]["text"] == "123" and sent[1]["_message_id"] == 2
    assert fake.sent_messages(CHAT + 1) == []
    assert fake.get_message(CHAT, 1)["text"] == "Alert & story 1 < 2"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("price <$100>", 'Unsupported start tag "$100" at byte offset 6'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("line<br>break", 'Unsupported start tag "br"'),
        ("Tom & Jerry", "Character '&' must be escaped"),
        ("caf&eacute;", 'Unsupported HTML entity "&eacute"'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_malformed_html_is_bad_request(fake, text, fragment):
    async def scenario(bot):
        await bot.send_message(CHAT, text, parse_mode="HTML")

    with pytest.raises(BadRequest) as info:
        run_with_bot(fake, scenario)
    # PTB strips "Bad Request: " and str.capitalize()s the rest, so compare case-insensitively
    assert str(info.value).startswith("Can't parse entities: ")
    assert fragment.lower() in str(info.value).lower()
    assert (
        fake.calls_to("sendMessage")[-1]
        .response["description"]
        .startswith("Bad Request: can't parse entities: " + fragment)
    )
    assert fake.sent_messages() == []
    assert fake.calls_to("sendMessage")[-1].status == 400


def test_html_is_not_checked_without_parse_mode(fake):
    async def scenario(bot):
        return await bot.send_message(CHAT, "Tom & Jerry <3")

    assert run_with_bot(fake, scenario).text == "Tom & Jerry <3"


def test_message_length_and_empty_text(fake):
    async def scenario(bot):
        ok = await bot.send_message(CHAT, "x" * 4096)
        errors = []
        for text in ("x" * 4097, "   ", "<b></b>"):
            try:
                await bot.send_message(CHAT, text, parse_mode="HTML")
            except BadRequest as exc:
                errors.append(exc.message)
        return ok, errors

    ok, errors = run_with_bot(fake, scenario)
    assert len(ok.text) == 4096
    assert errors == ["Message is too long", "Message text is empty", "Message text is empty"]


# --------------------------------------------------------------------------- scripted errors


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_429_raises_retry_after_then_recovers(fake):
    fake.fail_next("sendMessage", 429, retry_after=7)

    async def scenario(bot):
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(CHAT, "first try")
        message = await bot.send_message(CHAT, "second try")
        return info.value, message

    exc, message = run_with_bot(fake, scenario)
    assert retry_seconds(exc) == 7
    assert message.text == "second try"
    first, second = fake.calls_to("sendMessage")
    assert first.status == 429
    assert first.response["parameters"] == {"retry_after": 7}
    assert first.response["description"] == "Too Many Requests: retry after 7"
    assert second.status == 200 and second.time >= first.time
    assert [m["_plain"] for m in fake.sent_messages()] == ["second try"]


def test_block_chat_and_scripted_403(fake):
    fake.block_chat(CHAT)

    async def scenario(bot):
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "to a blocked chat")
        fake.fail_next("sendMessage", 403, "Forbidden: user is deactivated")
        with pytest.raises(Forbidden, match="user is deactivated"):
            await bot.send_message(CHAT + 1, "scripted")
        return await bot.send_message(CHAT + 1, "fine now")

    assert run_with_bot(fake, scenario).text == "fine now"
    assert [c.status for c in fake.calls_to("sendMessage")] == [403, 403, 200]
    fake.unblock_chat(CHAT)
    assert raw_post(fake, "sendMessage", data={"chat_id": CHAT, "text": "x"}).status_code == 200


def test_5xx_is_network_error_and_400_is_bad_request(fake):
    fake.fail_next("sendMessage", 500, times=2)
    fake.fail_next("sendMessage", 502)
    fake.fail_next("sendMessage", 400, "Bad Request: chat not found")

    async def scenario(bot):
        seen = []
        for _ in range(5):
            try:
                await bot.send_message(CHAT, "x")
                seen.append("ok")
            except NetworkError as exc:  # BadRequest is a NetworkError subclass in PTB
                seen.append(f"{type(exc).__name__}: {exc.message}")
        return seen

    assert run_with_bot(fake, scenario) == [
        "NetworkError: Internal Server Error",
        "NetworkError: Internal Server Error",
        "NetworkError: Bad Gateway",
        "BadRequest: Chat not found",
        "ok",
    ]


# --------------------------------------------------------------------------- updates


def test_pushed_command_arrives_and_offset_confirms_it(fake):
    update_id = fake.push_message(CHAT, "/start@news_monitor_test_bot now")

    async def scenario(bot):
        first = await bot.get_updates(offset=0, timeout=1)
        again = await bot.get_updates(offset=0, timeout=0)  # not confirmed yet
        confirmed = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
        return first, again, confirmed

    first, again, confirmed = run_with_bot(fake, scenario)
    [update] = first
    assert isinstance(update, Update) and update.update_id == update_id
    message = update.message
    assert message.text == "/start@news_monitor_test_bot now"
    assert message.chat.id == CHAT and message.from_user.id == CHAT
    [entity] = message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 28)
    assert [u.update_id for u in again] == [update_id]
    assert confirmed == ()
    assert fake.pending_updates() == []


def test_long_poll_returns_early_when_a_message_is_pushed(fake):
    timer = threading.Timer(0.2, fake.push_message, args=(CHAT, "hello"))

    async def scenario(bot):
        started = time.monotonic()
        timer.start()
        updates = await bot.get_updates(timeout=5)
        return updates, time.monotonic() - started

    updates, elapsed = run_with_bot(fake, scenario)
    timer.join()
    assert [u.message.text for u in updates] == ["hello"]
    assert 0.15 <= elapsed < 1.5


def test_long_poll_is_capped_and_released_by_stop():
    with FakeBotAPI(max_long_poll=0.3) as fake:
        started = time.monotonic()
        response = raw_post(fake, "getUpdates", json={"timeout": 30})
        assert response.json() == {"ok": True, "result": []}
        assert time.monotonic() - started < 1.5

    fake = FakeBotAPI(max_long_poll=10).start()
    result = {}
    poller = threading.Thread(
        target=lambda: result.update(r=raw_post(fake, "getUpdates", json={"timeout": 10}))
    )
    poller.start()
    assert fake.wait_for(lambda: fake._poll_generation == 1, timeout=2)
    started = time.monotonic()
    fake.stop()
    poller.join(timeout=3)
    assert time.monotonic() - started < 2
    assert result["r"].json() == {"ok": True, "result": []}


def test_callback_query_answer_and_edits(fake):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute")]])

    async def scenario(bot):
        sent = await bot.send_message(CHAT, "<i>Alert</i>", parse_mode="HTML", reply_markup=markup)
        fake.push_callback_query(CHAT, "mute", sent.message_id)
        [update] = await bot.get_updates(timeout=1)
        query = update.callback_query
        assert query.data == "mute" and query.message.message_id == sent.message_id
        assert await bot.answer_callback_query(query.id, text="Muted")
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query(query.id)
        edited = await bot.edit_message_text(
            "<i>Alert</i> (muted)", CHAT, sent.message_id, parse_mode="HTML"
        )
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text(
                "<i>Alert</i> (muted)", CHAT, sent.message_id, parse_mode="HTML"
            )
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("x", CHAT, 999)
        await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=markup)
        return edited

    edited = run_with_bot(fake, scenario)
    assert edited.text == "Alert (muted)" and edited.edit_date is not None
    assert edited.reply_markup is None  # editMessageText without reply_markup drops it
    assert fake.callback_answers()[0]["text"] == "Muted"
    assert [(m["_method"], m["_plain"]) for m in fake.sent_messages(CHAT)] == [
        ("sendMessage", "Alert"),
        ("editMessageText", "Alert (muted)"),
    ]
    assert fake.get_message(CHAT, 1)["reply_markup"]["inline_keyboard"][0][0]["text"] == "Mute"


def test_commands_and_webhook_methods(fake):
    fake.push_message(CHAT, "stale")

    async def scenario(bot):
        assert await bot.set_my_commands([("start", "Start"), ("mute", "Mute a watchlist")])
        commands = await bot.get_my_commands()
        with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
            await bot.set_my_commands([("Bad-Name", "x")])
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.delete_my_commands()
        return commands, await bot.get_my_commands()

    commands, after_delete = run_with_bot(fake, scenario)
    assert [(c.command, c.description) for c in commands] == [
        ("start", "Start"),
        ("mute", "Mute a watchlist"),
    ]
    assert after_delete == ()
    assert fake.pending_updates() == []


@pytest.mark.parametrize("encoding", ["json", "form", "multipart"])
def test_all_request_encodings_are_decoded(fake, encoding):
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    fields = {"chat_id": "-100123", "text": "true", "reply_markup": json.dumps(markup)}
    if encoding == "json":
        kwargs = {"json": {**fields, "chat_id": -100123}}
    elif encoding == "form":
        kwargs = {"data": fields}
    else:
        kwargs = {"data": fields, "files": {"unused": ("a.txt", b"abc", "text/plain")}}
    response = raw_post(fake, "sendMessage", **kwargs)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["chat"] == {
        "id": -100123,
        "type": "supergroup",
        "title": "Test supergroup -100123",
    }
    [sent] = fake.sent_messages(-100123)
    assert sent["chat_id"] == -100123 and sent["text"] == "true"
    assert sent["reply_markup"] == markup


# --------------------------------------------------------------------------- Application


def test_application_command_handler_replies(fake):
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_chat.send_message(
            f"Welcome, <b>{update.effective_user.id}</b>!", parse_mode="HTML"
        )

    async def main():
        app = (
            Application.builder()
            .token(fake.token)
            .base_url(fake.base_url)
            .base_file_url(fake.base_file_url)
            .build()
        )
        app.add_handler(CommandHandler("start", start))
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0.05, timeout=1)
        try:
            fake.push_message(CHAT, "/start")
            replied = await fake.wait_for_async(lambda: fake.sent_messages(CHAT), timeout=5)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
        return replied

    started = time.monotonic()
    assert asyncio.run(main())
    assert time.monotonic() - started < 5
    [reply] = fake.sent_messages(CHAT)
    assert reply["_plain"] == f"Welcome, {CHAT}!"
    assert reply["text"] == f"Welcome, <b>{CHAT}</b>!"
    assert fake.pending_updates() == []  # the updater confirmed the update on shutdown
    assert all(c.status in (200, 409) for c in fake.calls)


def test_message_length_is_measured_as_telegram_does(fake):
    """Visible text after entity parsing, in UTF-16 units: markup is free, an astral
    emoji counts two."""

    async def scenario(bot):
        results = []
        for text in (
            "<b>" + "&amp;" * 4096 + "</b>",  # 20,000 characters of HTML, 4,096 visible
            "😀" * 2048,  # 2,048 characters, 4,096 UTF-16 units
            "😀" * 2048 + "x",
        ):
            try:
                await bot.send_message(CHAT, text, parse_mode="HTML")
                results.append("ok")
            except BadRequest as exc:
                results.append(exc.message)
        return results

    assert run_with_bot(fake, scenario) == ["ok", "ok", "Message is too long"]
