"""The Telegram bot: its Application, the per-chat update queues, the guard, start and stop.

Commands and buttons are in `handlers.py`, replies and keyboards in `talk.py`.

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
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from monitor.bot import replies
from monitor.bot.handlers import (
    COMMAND_HANDLERS,
    Handler,
    on_button,
    on_error,
    on_migrate,
    on_plain_text,
    on_stale_button,
    on_unknown_command,
    on_vote,
)
from monitor.bot.talk import Context, answer, is_command, reply, runtime_of
from monitor.core.errors import DeliveryError, UserError
from monitor.delivery.ratelimit import SendGate
from monitor.delivery.telegram import GateRateLimiter
from monitor.pipeline import chats
from monitor.pipeline.runtime import Runtime

log = logging.getLogger(__name__)

MESSAGES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST  # not edits
ALLOWED_UPDATES = ["message", "channel_post", "callback_query"]
MAX_CONCURRENT_UPDATES = 256
CHAT_BACKLOG = 4  # updates of one chat waiting their turn; more are dropped (a flood)
NOT_ALLOWED_EVERY_SECONDS = 3600  # "not allowed" at most once an hour per unlisted chat


BotApp = Application  # the bot's type, for callers that must not import telegram


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
    assert app.updater is not None  # built with the default updater
    await app.updater.start_polling(
        timeout=timedelta(seconds=poll_timeout), allowed_updates=ALLOWED_UPDATES
    )
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
    if chat is None or chats.is_allowed(
        runtime_of(context).config, chat.id, user.id if user else None
    ):
        return
    told: dict[int, float] = context.bot_data["told"]
    now = time.monotonic()
    if now - told.get(chat.id, -NOT_ALLOWED_EVERY_SECONDS) >= NOT_ALLOWED_EVERY_SECONDS:
        told[chat.id] = now  # a flood from an unlisted chat costs no sends after the first
        log.info("update from a chat not allowed chat=%s", chat.id)
        if update.callback_query:
            await answer(update.callback_query, "This chat is not allowed to use this bot.")
        elif is_command(update) or chat.type == "private":
            await reply(update, replies.not_allowed_text(chat.id))
    raise ApplicationHandlerStop


def command(name: str, handler: Handler) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """A command handler that turns a `UserError` into the command's usage line."""

    async def run(update: Update, context: Context) -> None:
        try:
            args = chats.check_arguments(list(context.args or []))
            await handler(update, context, runtime_of(context), args)
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
                    coroutine.close()
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
