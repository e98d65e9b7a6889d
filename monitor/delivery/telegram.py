"""The Telegram sink: outbox rows -> sendMessage, through the shared rate-limit gate.

Telegram's answers become `DeliveryError`s that the drain knows how to treat
(python-telegram-bot's request layer maps 429 -> RetryAfter, 403 -> Forbidden,
400 -> BadRequest, the rest -> NetworkError):
- RetryAfter: retried after `retry_after`, and the whole bot pauses that long;
- Forbidden (blocked, kicked, deactivated) or a chat that no longer exists:
  `chat_gone`, its subscriptions are paused;
- any other BadRequest (malformed HTML, too long): `permanent`, recorded as
  failed with Telegram's reason, never retried in a loop;
- NetworkError, TimedOut, 5xx: transient, retried with backoff; a timeout
  after the request went out may have delivered the message (`maybe_delivered`),
  so sends wait `[telegram] send_timeout_seconds` for their answer, not PTB's 5 s;
- ChatMigrated (a group became a supergroup): sent again to the new id, and
  the chat's subscriptions follow it (`on_migrated`).
`GateRateLimiter` puts the bot's command replies through the same gate, so
the two senders never add up to more than Telegram allows.
"""

from __future__ import annotations

import datetime as dtm
import logging
import re
import warnings
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from monitor.core.errors import ConfigError, DeliveryError
from monitor.core.models import OutboxMessage
from monitor.core.outbox import ALERT, CONSOLE_CHAT
from monitor.delivery.msglimit import clip_html, fits
from monitor.delivery.ratelimit import SendGate
from monitor.delivery.render import render_alert_html

log = logging.getLogger(__name__)

RATE_LIMITED = {"sendMessage", "editMessageText", "editMessageReplyMarkup"}
CHAT_ID_RE = re.compile(r"^(-?\d+|@\w{4,})$")
# 400 answers that mean the chat is gone (or we may no longer post there), not a bad message
CHAT_GONE_MARKERS = (
    "chat not found",
    "group chat was deactivated",
    "chat was deleted",
    "peer_id_invalid",
    "user not found",
    "have no rights to send",
    "not enough rights to send",
    "need administrator rights",
    "bot was kicked",
    "channel_private",
)
DEFAULT_SEND_TIMEOUT = 20.0  # seconds; `[telegram] send_timeout_seconds`
# httpx's timeouts that happen before a request is on the wire: Telegram never saw it.
# PTB keeps the httpx error as the cause; only fetch.py imports httpx, so it is named here.
NOT_SENT_TIMEOUTS = frozenset({"ConnectTimeout", "PoolTimeout"})


def telegram_chat_id(chat_id: str) -> int | str:
    """Outbox chat ids are text; Telegram wants numbers (or @channelname)."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def retry_seconds(exc: RetryAfter) -> float:
    """retry_after is an int today and a timedelta in PTB's future; accept both, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def maybe_delivered(exc: TelegramError) -> bool:
    """A timeout after the request left: Telegram may have sent it and lost only the answer."""
    return isinstance(exc, TimedOut) and type(exc.__cause__).__name__ not in NOT_SENT_TIMEOUTS


def render_message(message: OutboxMessage, default_tz: ZoneInfo) -> str:
    """The HTML text of an outbox row, rendered when it was queued: what is sent is what the
    row holds, retried byte for byte. An alert queued by an older version, which rendered
    at send time, is rendered now. A row queued before fields were capped may be too long:
    it is clipped, not lost."""
    payload = message.payload
    if "text" not in payload and message.kind == ALERT:
        return render_alert_html(payload, ZoneInfo(payload.get("timezone") or default_tz.key))
    return fit_message(payload["text"], f"outbox_id={message.id} kind={message.kind}")


def fit_message(text: str, what: str) -> str:
    """The last guard before Telegram: a message over its limit is clipped, and logged (a
    renderer missed a cap), rather than refused "Message is too long" and lost."""
    if fits(text):
        return text
    log.warning("message over Telegram's limit clipped %s", what)
    return clip_html(text)


class TelegramSink:
    """Sends every outbox row addressed to a Telegram chat (any id but `console`)."""

    name = "telegram"

    def __init__(
        self,
        bot: Bot,
        gate: SendGate,
        default_tz: ZoneInfo,
        on_migrated: Callable[[str, str], None] | None = None,
    ) -> None:
        self.bot = bot
        self.gate = gate
        self.default_tz = default_tz
        self.on_migrated = on_migrated  # (old chat id, new chat id): a group became a supergroup

    def accepts(self, chat_id: str) -> bool:
        return chat_id != CONSOLE_CHAT and bool(CHAT_ID_RE.match(chat_id))

    def ready_in(self, chat_id: str) -> float:
        """Seconds until the rate limits let a message to this chat go."""
        return self.gate.ready_in(chat_id)

    @classmethod
    def connect(
        cls,
        token: str,
        base_url: str,
        gate: SendGate,
        default_tz: ZoneInfo,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
    ) -> TelegramSink:
        # a slow answer is still an answer: giving up on it early resends a sent message
        request = HTTPXRequest(read_timeout=send_timeout)
        return cls(Bot(token, base_url=base_url, request=request), gate, default_tz)

    async def start(self) -> None:
        """getMe: proves the token and the API address before anything is sent."""
        try:
            await self.bot.initialize()
        except InvalidToken as exc:  # its message quotes the token: never pass it on
            raise ConfigError(
                None,
                "TELEGRAM_BOT_TOKEN",
                "Telegram rejected the bot token",
                hint="copy the token again from @BotFather",
            ) from exc
        except TelegramError as exc:
            raise DeliveryError(
                f"cannot reach the Telegram Bot API at {self.bot.base_url.split('/bot')[0]}: "
                f"{exc.message}"
            ) from exc

    async def close(self) -> None:
        await self.bot.shutdown()

    async def send(self, message: OutboxMessage) -> None:
        try:
            text = render_message(message, self.default_tz)
            markup = message.payload.get("reply_markup")  # e.g. feedback buttons, as Bot API JSON
            reply_markup = InlineKeyboardMarkup.de_json(markup, self.bot) if markup else None
        except (KeyError, TypeError, ValueError) as exc:
            raise DeliveryError(f"cannot render {message.kind}: {exc!r}", permanent=True) from exc
        # a digest is a list of links: previews would bury it; an alert shows its article
        preview = LinkPreviewOptions(is_disabled=message.kind != ALERT)
        try:
            try:
                await self._post(message.chat_id, text, reply_markup, preview)
            except ChatMigrated as exc:
                new_id = str(exc.new_chat_id)
                log.info("chat migrated chat=%s new_chat=%s", message.chat_id, new_id)
                if self.on_migrated:
                    self.on_migrated(message.chat_id, new_id)
                await self._post(new_id, text, reply_markup, preview)
        except TelegramError as exc:
            raise self._delivery_error(exc) from exc

    async def _post(
        self,
        chat_id: str,
        text: str,
        reply_markup: InlineKeyboardMarkup | None,
        preview: LinkPreviewOptions,
    ) -> None:
        async with self.gate.slot(chat_id):
            await self.bot.send_message(
                chat_id=telegram_chat_id(chat_id),
                text=text,
                parse_mode=ParseMode.HTML,
                link_preview_options=preview,
                reply_markup=reply_markup,
            )

    def _delivery_error(self, exc: TelegramError) -> DeliveryError:
        if isinstance(exc, RetryAfter):
            seconds = retry_seconds(exc)
            self.gate.pause(seconds)
            return DeliveryError(
                f"Telegram flood control: retry after {seconds:g}s", retry_after=seconds
            )
        if isinstance(exc, Forbidden | ChatMigrated):
            return DeliveryError(f"Telegram: {exc.message}", chat_gone=True)
        if isinstance(exc, BadRequest):
            gone = any(marker in exc.message.lower() for marker in CHAT_GONE_MARKERS)
            return DeliveryError(f"Telegram: {exc.message}", chat_gone=gone, permanent=not gone)
        if isinstance(exc, InvalidToken):
            log.error("Telegram rejected the bot token; messages wait in the outbox")
        if maybe_delivered(exc):
            return DeliveryError(
                f"Telegram: no answer in time, the message may have been delivered: {exc.message}",
                maybe_delivered=True,
            )
        return DeliveryError(f"Telegram: {type(exc).__name__}: {exc.message}")


class GateRateLimiter(BaseRateLimiter[None]):
    """PTB's hook for the bot's own requests (command replies): they wait their turn at
    the same gate as the outbox sender."""

    def __init__(self, gate: SendGate) -> None:
        self.gate = gate

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Any],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Any:
        chat_id = data.get("chat_id")
        if endpoint not in RATE_LIMITED or chat_id is None:
            return await callback(*args, **kwargs)
        try:
            async with self.gate.slot(str(chat_id)):
                return await callback(*args, **kwargs)
        except RetryAfter as exc:  # wait it out once: a late answer beats none
            self.gate.pause(retry_seconds(exc))
            async with self.gate.slot(str(chat_id)):
                return await callback(*args, **kwargs)
