"""Talking back: replies, button answers, keyboards, and database work off the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from monitor.bot import replies
from monitor.core.errors import DatabaseBusy, UserError
from monitor.delivery.msglimit import CALLBACK_ANSWER_LIMIT
from monitor.delivery.telegram import fit_message
from monitor.pipeline.runtime import Runtime

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
T = TypeVar("T")


BUSY_NOTICE_SECONDS = 3.0


BUSY_ATTEMPTS = 3


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
            log.warning("database busy chat=%s attempt=%d", chat_id_of(update), attempt)
    raise UserError(replies.STILL_BUSY_TEXT)


async def reply(
    update: Update, texts: str | Sequence[str], markup: InlineKeyboardMarkup | None = None
) -> None:
    parts = [texts] if isinstance(texts, str) else list(texts)
    for index, part in enumerate(parts, start=1):
        await update.effective_chat.send_message(  # type: ignore[union-attr]  # replies go to updates from a chat
            fit_message(part, f"reply chat={chat_id_of(update)}"),
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


def runtime_of(context: Context) -> Runtime:
    return context.application.bot_data["rt"]


def chat_id_of(update: Update) -> str:
    return str(update.effective_chat.id)  # type: ignore[union-attr]  # handlers see chat updates only


def user_id_of(update: Update) -> int | None:
    return update.effective_user.id if update.effective_user else None


def is_command(update: Update) -> bool:
    message = update.effective_message
    return bool(message and message.text and message.text.startswith("/"))


def buttons(
    prefix: str, ids: Sequence[str], extra: Sequence[tuple[str, str]] = ()
) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(label, callback_data=f"{prefix}:{value}")]
        for label, value in [*((i, i) for i in ids), *extra]
        if len(f"{prefix}:{value}".encode()) <= 64  # Telegram's callback_data limit
    ]
    return InlineKeyboardMarkup(rows)
