"""Telegram commands, thin: parse the arguments -> `chats` / the store -> a `replies` text.

python-telegram-bot's Application polls for updates in the worker's own
asyncio loop, beside the scheduler. Every chat is checked against
`[telegram] allowed_chats` before any handler runs (admins are allowed
anywhere). Replies are sent directly but wait their turn at the same rate-limit
gate as the outbox sender, so an answer to /recent during a burst of alerts
never trips Telegram's limits; digests asked for with /digest go through the
outbox like every alert and digest. A bad argument gets a usage line, an
unknown command a pointer to /help, and a bug a one-line apology (the
traceback goes to the log).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from monitor.bot import replies
from monitor.core.errors import DatabaseBusy, DeliveryError, UserError
from monitor.delivery.msglimit import CALLBACK_ANSWER_LIMIT
from monitor.delivery.ratelimit import SendGate
from monitor.delivery.telegram import GateRateLimiter, fit_message
from monitor.digests import feedback
from monitor.pipeline import chats
from monitor.pipeline.cycle import Runtime, deliver
from monitor.pipeline.status import collect_status

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context, Runtime, list[str]], Awaitable[None]]
MESSAGES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST  # not edits
ALLOWED_UPDATES = ["message", "channel_post", "callback_query"]
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
T = TypeVar("T")
MAX_CONCURRENT_UPDATES = 256
CHAT_BACKLOG = 4  # updates of one chat waiting their turn; more are dropped (a flood)
NOT_ALLOWED_EVERY_SECONDS = 3600  # "not allowed" at most once an hour per unlisted chat
BUSY_NOTICE_SECONDS = 3.0
BUSY_ATTEMPTS = 3


def build_application(rt: Runtime, token: str, gate: SendGate) -> Application:
    app = (
        Application.builder()
        .token(token)
        .base_url(rt.config.telegram.base_url)
        .rate_limiter(GateRateLimiter(gate))
        .read_timeout(rt.config.telegram.send_timeout_seconds)  # a slow answer is no failure
        .job_queue(None)  # the worker's scheduler does the scheduling
        .concurrent_updates(ChatQueues())
        .build()
    )
    app.bot_data["rt"] = rt
    app.bot_data["told"] = {}  # unlisted chat id -> when it was last told it is not allowed
    app.add_handler(TypeHandler(Update, guard), group=-1)
    for name, handler in COMMAND_HANDLERS.items():
        app.add_handler(CommandHandler(name, command(name, handler), filters=MESSAGES))
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^(sub|unsub):"))
    app.add_handler(CallbackQueryHandler(on_vote, pattern=r"^vote:"))
    app.add_handler(CallbackQueryHandler(on_stale_button))  # any other button
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, on_migrate))
    app.add_handler(MessageHandler(filters.COMMAND & MESSAGES, on_unknown_command))
    app.add_handler(
        MessageHandler(filters.TEXT & filters.ChatType.PRIVATE & MESSAGES, on_plain_text)
    )
    app.add_error_handler(on_error)
    return app


async def start_bot(app: Application, poll_timeout: float = 30) -> None:
    """getMe, the command menu, then polling; pending updates are answered, not dropped.
    Telegram out of reach is a `DeliveryError`, to retry."""
    try:
        await app.initialize()
        await set_commands(app)
    except TelegramError as exc:
        await app.shutdown()
        raise DeliveryError(f"cannot start the bot: {exc.message}") from exc
    await app.start()
    await app.updater.start_polling(timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES)  # type: ignore[union-attr]
    log.info("telegram bot polling as @%s", app.bot.username)


async def stop_bot(app: Application) -> None:
    """Stop at once, whatever the backlog: updates not started yet are dropped (logged), the
    ones in flight finish. Answering a flood of 500 queued commands first took 200 s."""
    if isinstance(app.update_processor, ChatQueues):
        app.update_processor.stopping = True
    if app.updater and app.updater.running:
        await app.updater.stop()
    dropped = 0
    while not app.update_queue.empty():
        app.update_queue.get_nowait()
        app.update_queue.task_done()
        dropped += 1
    if dropped:
        log.warning("stopping: %d queued updates not answered", dropped)
    if app.running:
        await app.stop()
    await app.shutdown()


async def set_commands(app: Application) -> None:
    """The command menu: everyone's, and with /status for each admin's private chat."""
    rt: Runtime = app.bot_data["rt"]
    public = [BotCommand(c.name, c.description) for c in replies.COMMANDS if not c.admin]
    await app.bot.set_my_commands(public)
    full = [BotCommand(c.name, c.description) for c in replies.COMMANDS]
    for admin in rt.config.telegram.admins:
        try:
            await app.bot.set_my_commands(full, scope=BotCommandScopeChat(admin))
        except TelegramError as exc:  # the admin never opened a chat with the bot
            log.warning("cannot set admin commands admin=%s error=%s", admin, exc)


# -- plumbing --------------------------------------------------------------------------
async def guard(update: Update, context: Context) -> None:
    """Runs before every handler: unlisted chats are told so, and go no further."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or chats.is_allowed(_rt(context).config, chat.id, user and user.id):
        return
    told: dict[int, float] = context.bot_data["told"]
    now = time.monotonic()
    if now - told.get(chat.id, -NOT_ALLOWED_EVERY_SECONDS) >= NOT_ALLOWED_EVERY_SECONDS:
        told[chat.id] = now  # a flood from an unlisted chat costs no sends after the first
        log.info("update from a chat not allowed chat=%s", chat.id)
        if update.callback_query:
            await answer(update.callback_query, "This chat is not allowed to use this bot.")
        elif _is_command(update) or chat.type == "private":
            await reply(update, replies.not_allowed_text(chat.id))
    raise ApplicationHandlerStop


def command(name: str, handler: Handler) -> Callable[[Update, Context], Awaitable[None]]:
    """A command handler that turns a `UserError` into the command's usage line."""

    async def run(update: Update, context: Context) -> None:
        try:
            args = chats.check_arguments(list(context.args or []))
            await handler(update, context, _rt(context), args)
        except UserError as exc:
            await reply(update, replies.usage(name, exc.message))

    run.__name__ = f"on_{name}"
    return run


class ChatQueues(BaseUpdateProcessor):
    """Updates of different chats at once, each chat's in order, none started after stop.

    One chat's flood holds at most CHAT_BACKLOG of the slots; its further updates are
    dropped, so every other chat is still answered (500 commands from one chat once left
    another without an answer for 150 s)."""

    def __init__(self, max_updates: int = MAX_CONCURRENT_UPDATES, backlog: int = CHAT_BACKLOG):
        super().__init__(max_updates)
        self.backlog = backlog
        self.stopping = False
        self._turns: dict[int | None, asyncio.Lock] = {}
        self._waiting: Counter[int | None] = Counter()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = (
            update.effective_chat.id
            if isinstance(update, Update) and update.effective_chat
            else None
        )
        if self.stopping or self._waiting[chat] >= self.backlog:
            coroutine.close()  # type: ignore[attr-defined]  # a coroutine, never awaited
            log.warning("update dropped chat=%s stopping=%s", chat, self.stopping)
            return
        self._waiting[chat] += 1
        try:
            async with self._turns.setdefault(chat, asyncio.Lock()):
                if self.stopping:
                    coroutine.close()  # type: ignore[attr-defined]
                    return
                await coroutine
        finally:
            self._waiting[chat] -= 1
            if not self._waiting[chat]:
                del self._waiting[chat]
                self._turns.pop(chat, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""


async def off_loop(update: Update, work: Callable[[], T]) -> T:
    """Run `work` (database work) in a thread, never on the event loop, so a write lock held
    by another process never freezes the bot for other chats. If it takes a while the chat
    is told so; a busy database is retried, then reported as "try again"."""
    told = False
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        task = asyncio.ensure_future(asyncio.to_thread(work))
        while not (await asyncio.wait({task}, timeout=BUSY_NOTICE_SECONDS))[0]:
            if not told:
                told = True
                await reply(update, replies.BUSY_TEXT)
        try:
            return task.result()
        except DatabaseBusy:
            log.warning("database busy chat=%s attempt=%d", _chat_id(update), attempt)
    raise UserError(replies.STILL_BUSY_TEXT)


async def reply(
    update: Update, texts: str | Sequence[str], markup: InlineKeyboardMarkup | None = None
) -> None:
    parts = [texts] if isinstance(texts, str) else list(texts)
    for index, part in enumerate(parts, start=1):
        await update.effective_chat.send_message(  # type: ignore[union-attr]
            fit_message(part, f"reply chat={_chat_id(update)}"),
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=markup if index == len(parts) else None,
        )


async def answer(query: CallbackQuery | None, text: str = "", alert: bool = False) -> None:
    """Answer a button press (stops the client's spinner), within Telegram's 200 characters."""
    if query is not None:
        await query.answer(
            replies.cut(text, CALLBACK_ANSWER_LIMIT) or None, show_alert=alert or None
        )


def _rt(context: Context) -> Runtime:
    return context.application.bot_data["rt"]


def _chat_id(update: Update) -> str:
    return str(update.effective_chat.id)  # type: ignore[union-attr]


def _user_id(update: Update) -> int | None:
    return update.effective_user.id if update.effective_user else None


def _is_command(update: Update) -> bool:
    message = update.effective_message
    return bool(message and message.text and message.text.startswith("/"))


def _buttons(
    prefix: str, ids: Sequence[str], extra: Sequence[tuple[str, str]] = ()
) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(label, callback_data=f"{prefix}:{value}")]
        for label, value in [*((i, i) for i in ids), *extra]
        if len(f"{prefix}:{value}".encode()) <= 64  # Telegram's callback_data limit
    ]
    return InlineKeyboardMarkup(rows)


# -- commands: parse -> act -> reply ------------------------------------------------------
async def on_start(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """What the bot does, how to subscribe; a chat that blocked us and came back resumes."""
    chat_id = _chat_id(update)
    resumed, settings = await off_loop(
        update, lambda: (chats.resume(rt, chat_id), chats.chat_settings(rt, chat_id))
    )
    markup = _buttons("sub", [w.id for w in rt.library.watchlists])
    await reply(update, replies.welcome_text(settings, resumed), markup)


async def on_help(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    admin = chats.is_admin(rt.config, _user_id(update))
    await reply(update, replies.help_text(admin, rt.config.poll.alert_max_age_hours))


async def on_watchlists(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    await reply(update, replies.watchlists_texts(rt.library))


async def on_subscribe(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """/subscribe <watchlist> [topic …]; with no argument, a button per watchlist."""
    if not args:
        markup = _buttons("sub", [w.id for w in rt.library.watchlists])
        await reply(
            update,
            "Tap a watchlist to follow all its topics, or name some:\n"
            + replies.usage("subscribe"),
            markup,
        )
        return
    chat_id = _chat_id(update)

    def act() -> str:
        sub = chats.subscribe(rt, chat_id, args[0], args[1:], rt.clock())
        settings = chats.chat_settings(rt, chat_id)
        return replies.subscribed_text(sub.watchlist, sub.topics, settings)

    await reply(update, await off_loop(update, act))


async def on_unsubscribe(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """/unsubscribe <watchlist>|all; with no argument, a button per subscription."""
    if not args:
        chat_id = _chat_id(update)
        mine = [
            s.watchlist for s in await off_loop(update, lambda: rt.store.subscriptions(chat_id))
        ]
        if not mine:
            raise UserError("You follow nothing yet.")
        markup = _buttons("unsub", mine, extra=[("All of them", "all")])
        await reply(update, "Tap what to stop following:", markup)
        return
    chat_id = _chat_id(update)
    if len(args) > 1:  # /unsubscribe officials ken-salazar: some topics only
        left = await off_loop(
            update, lambda: chats.unsubscribe_topics(rt, chat_id, args[0], args[1:], rt.clock())
        )
        await reply(update, replies.topics_left_text(args[0].lower(), left))
        return
    dropped = await off_loop(update, lambda: chats.unsubscribe(rt, chat_id, args[0]))
    await reply(update, replies.unsubscribed_text(dropped))


async def on_mysubs(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    chat_id = _chat_id(update)
    settings = await off_loop(update, lambda: chats.chat_settings(rt, chat_id))
    await reply(update, replies.mysubs_text(settings, rt.clock()))


async def on_digest(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """Today's digest so far, through the outbox like every digest."""
    chat_id, key = _chat_id(update), str(update.update_id)
    queued = await off_loop(update, lambda: chats.queue_digest_now(rt, chat_id, rt.clock(), key))
    if not queued:
        await reply(update, "Nothing yet today for what you follow. /recent shows earlier hits.")
        return
    context.application.create_task(deliver(rt), update=update)


async def on_digesttime(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """/digesttime HH:MM [Area/City]; with no argument, the current setting."""
    chat_id = _chat_id(update)
    if not args:
        settings = await off_loop(update, lambda: chats.chat_settings(rt, chat_id))
        await reply(
            update,
            replies.digest_time_text(settings, rt.clock()) + "\n" + replies.usage("digesttime"),
        )
        return
    settings = await off_loop(update, lambda: chats.set_digest_time(rt, chat_id, args, rt.clock()))
    await reply(update, replies.digest_time_text(settings, rt.clock()))


async def on_mute(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    if len(args) != 1:
        raise UserError("Say for how many hours.")
    chat_id = _chat_id(update)
    until, settings = await off_loop(
        update,
        lambda: (chats.mute(rt, chat_id, args[0], rt.clock()), chats.chat_settings(rt, chat_id)),
    )
    await reply(update, replies.muted_text(until, settings))


async def on_unmute(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    chat_id = _chat_id(update)
    was_muted, held = await off_loop(update, lambda: chats.unmute(rt, chat_id, rt.clock()))
    await reply(update, replies.unmuted_text(was_muted, held))


async def on_recent(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    count = chats.parse_count(args, chats.DEFAULT_RECENT, chats.MAX_RECENT)
    chat_id = _chat_id(update)
    rows, settings = await off_loop(
        update, lambda: (rt.store.recent_hits(chat_id, count), chats.chat_settings(rt, chat_id))
    )
    await reply(update, replies.recent_texts(rows, settings))


async def on_search(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    if not args:
        raise UserError("Search for what?")
    query = " ".join(args)
    chat_id = _chat_id(update)
    (rows, corrected), settings = await off_loop(
        update,
        lambda: (rt.store.search(query, chats.SEARCH_RESULTS), chats.chat_settings(rt, chat_id)),
    )
    await reply(update, replies.search_texts(query, rows, settings, corrected))


async def on_status(update: Update, context: Context, rt: Runtime, args: list[str]) -> None:
    """Feeds ok/failing, last poll, outbox depth: for admins only."""
    if not chats.is_admin(rt.config, _user_id(update)):
        await reply(update, replies.admin_only_text(_user_id(update)))
        return
    status = await off_loop(update, lambda: collect_status(rt.store, rt.config, rt.clock()))
    await reply(update, replies.status_text(status))


COMMAND_HANDLERS: dict[str, Handler] = {
    "start": on_start,
    "help": on_help,
    "watchlists": on_watchlists,
    "subscribe": on_subscribe,
    "unsubscribe": on_unsubscribe,
    "mysubs": on_mysubs,
    "digest": on_digest,
    "digesttime": on_digesttime,
    "mute": on_mute,
    "unmute": on_unmute,
    "recent": on_recent,
    "search": on_search,
    "status": on_status,
}


# -- everything else ------------------------------------------------------------------------
async def on_button(update: Update, context: Context) -> None:
    """The inline buttons of /start, /subscribe and /unsubscribe."""
    query, rt = update.callback_query, _rt(context)
    action, _, value = query.data.partition(":")  # type: ignore[union-attr]
    chat_id = _chat_id(update)

    def act() -> str:
        if action == "sub":
            sub = chats.subscribe(rt, chat_id, value, [], rt.clock())
            return replies.subscribed_text(
                sub.watchlist, sub.topics, chats.chat_settings(rt, chat_id)
            )
        return replies.unsubscribed_text(chats.unsubscribe(rt, chat_id, value))

    try:
        text = await off_loop(update, act)
    except UserError as exc:
        await answer(query, exc.message, alert=True)
        return
    await answer(query)
    await reply(update, text)


async def on_vote(update: Update, context: Context) -> None:
    """👍 / 👎 under an alert or a digest entry: store the vote, answer, tick the choice."""
    query, rt = update.callback_query, _rt(context)
    data = query.data or ""  # type: ignore[union-attr]
    chat_id = _chat_id(update)
    try:
        said = await off_loop(
            update, lambda: feedback.cast_vote(rt.store, chat_id, data, rt.clock())
        )
    except UserError as exc:
        await answer(query, exc.message, alert=True)
        return
    await answer(query, said)
    markup = getattr(query.message, "reply_markup", None)  # type: ignore[union-attr]
    vote, token = feedback.parse_vote(data)  # type: ignore[misc]
    if markup is None:  # too old for Telegram to show us the message
        return
    marked = feedback.mark_choice(markup.to_dict(), token, vote)
    if marked == markup.to_dict():
        return
    try:
        await query.edit_message_reply_markup(InlineKeyboardMarkup.de_json(marked, context.bot))  # type: ignore[union-attr]
    except BadRequest as exc:  # the message can no longer be edited: the vote still counts
        log.info("vote keyboard not updated chat=%s error=%s", _chat_id(update), exc.message)
    except Exception:  # the vote is stored and confirmed: a failed tick is no failure
        log.exception("vote keyboard not updated chat=%s", _chat_id(update))


async def on_stale_button(update: Update, context: Context) -> None:
    """A button this bot no longer knows (an old message, a forged press): answered, so
    the client's spinner stops, and nothing else happens."""
    log.info("unknown button chat=%s data=%r", _chat_id(update), update.callback_query.data)  # type: ignore[union-attr]
    await answer(update.callback_query, "This button no longer works. /help lists the commands.")


async def on_migrate(update: Update, context: Context) -> None:
    """A group became a supergroup: its subscriptions and queue follow the new id."""
    message, rt = update.effective_message, _rt(context)
    if message is None or not message.migrate_to_chat_id:
        return
    old, new = str(message.chat.id), str(message.migrate_to_chat_id)
    await off_loop(update, lambda: chats.migrate(rt, old, new, rt.clock()))
    log.info("chat migrated chat=%s new_chat=%s", old, new)


async def on_unknown_command(update: Update, context: Context) -> None:
    word = update.effective_message.text.split()[0]  # type: ignore[union-attr]
    name, _, bot_name = word.partition("@")
    if bot_name and bot_name.lower() != (context.bot.username or "").lower():
        return  # a command for another bot in the same group
    await reply(update, replies.unknown_command_text(name))


async def on_plain_text(update: Update, context: Context) -> None:
    await reply(update, "I answer commands: /help lists them, /watchlists shows what to follow.")


async def on_error(update: object, context: Context) -> None:
    """Log the failure with its traceback; the chat gets one line, never the traceback."""
    log.error(
        "update failed update_id=%s", getattr(update, "update_id", None), exc_info=context.error
    )
    if isinstance(update, Update) and update.effective_chat:
        try:
            await reply(update, "Sorry, that failed on our side. Please try again in a minute.")
        except TelegramError:
            log.warning(
                "could not tell the chat about the failure chat=%s", update.effective_chat.id
            )
