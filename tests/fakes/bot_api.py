"""A fake Telegram Bot API server that the real python-telegram-bot talks to over HTTP.

Stdlib only. It listens on 127.0.0.1 (random port) in a background thread and
answers the Bot API methods the bot uses, with Telegram's response envelope:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description":
"...", "parameters": {"retry_after": N}}``.

Pointing python-telegram-bot at it::

    with FakeBotAPI() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.base_url)
        app = (
            Application.builder()
            .token(fake.token)
            .base_url(fake.base_url)
            .base_file_url(fake.base_file_url)
            .build()
        )

``fake.base_url`` is ``"http://127.0.0.1:<port>/bot"``: PTB appends the token and
then ``"/" + method`` (``base_url + token + "/sendMessage"``). A template such as
``fake.base_url + "{token}"`` works as well, PTB substitutes the placeholder.

Where the fake differs from Telegram on purpose:

* ``parse_mode=HTML`` is checked *more* strictly than Telegram: a raw ``&`` that
  does not start ``&amp; &lt; &gt; &quot;`` or a numeric reference (with ``;``)
  is rejected, as the Bot API documentation demands. Telegram itself leaves such
  text literal. Pass ``strict_entities=False`` for Telegram's lenient behaviour.
* The 4096 limit is measured as Telegram measures it: the visible text after entity
  parsing, in UTF-16 code units (an astral emoji counts 2, ``&amp;`` counts 1, tags 0).
* Markdown parse modes are accepted but not validated.
* Any chat id is a valid destination; use ``block_chat`` or ``fail_next`` for errors,
  ``delay_next`` for answers that come late (the message itself is sent at once).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Call", "FakeBotAPI", "HtmlParseError", "parse_telegram_html"]

MAX_MESSAGE_LENGTH = 4096
BLOCKED_DESCRIPTION = "Forbidden: bot was blocked by the user"
NOT_MODIFIED_DESCRIPTION = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
CALLBACK_TOO_OLD_DESCRIPTION = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
CONFLICT_DESCRIPTION = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

# Parameters that are strings in the Bot API: never JSON-decoded even if they look like JSON
# ("123", "true", "[x]" are valid message texts).
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "language_code",
        "description",
        "short_description",
        "name",
        "title",
        "business_connection_id",
        "message_effect_id",
        "secret_token",
        "ip_address",
        "emoji",
        "query",
    }
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: BLOCKED_DESCRIPTION,
    404: "Not Found",
    409: CONFLICT_DESCRIPTION,
    500: "Internal Server Error",
    502: "Bad Gateway",
}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Call:
    """One HTTP request the fake answered."""

    method: str  # canonical Bot API name ("sendMessage"), or the raw path part if unknown
    params: dict[str, Any]  # decoded parameters (+ "_plain"/"_message_id" for sent messages)
    time: float  # time.monotonic() when the request arrived
    status: int  # HTTP status returned
    response: dict[str, Any] = field(default_factory=dict)  # JSON body returned

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ApiError(Exception):
    """Raised inside method handlers: becomes an error response."""

    def __init__(self, status: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    remaining: int


# --------------------------------------------------------------------------- HTML


class HtmlParseError(ValueError):
    """Telegram's "can't parse entities" error; str() is the text after that prefix."""


_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_ALLOWED_TAGS = frozenset(_SIMPLE_TAGS) | {"a", "span", "tg-emoji"}
_NAMED_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"'}


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


class _TelegramHtml(HTMLParser):
    """Telegram's HTML subset -> (plain text, entities); raises HtmlParseError."""

    def __init__(self, source: str, strict_entities: bool):
        super().__init__(convert_charrefs=False)
        self.source = source
        self.strict_entities = strict_entities
        self.parts: list[str] = []
        self.pos16 = 0  # UTF-16 offset of the end of the plain text so far
        # (tag, UTF-16 start offset, entity or None, index into parts)
        self.stack: list[tuple[str, int, dict[str, Any] | None, int]] = []
        self.entities: list[dict[str, Any]] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    # -- positions
    def _char_offset(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def _byte_offset(self, char_offset: int) -> int:
        return len(self.source[:char_offset].encode("utf-8"))

    def _fail(self, message: str) -> None:
        raise HtmlParseError(message)

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        self.pos16 += _utf16_len(text)

    # -- tags
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        at = self._byte_offset(self._char_offset())
        if tag not in _ALLOWED_TAGS:
            self._fail(f'Unsupported start tag "{tag}" at byte offset {at}')
        attr = {k: (v or "") for k, v in attrs}
        entity: dict[str, Any] | None
        if tag == "a":
            entity = {"type": "text_link", "url": attr.get("href", "")}
        elif tag == "span":
            if attr.get("class") != "tg-spoiler":
                self._fail(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
            entity = {"type": "spoiler"}
        elif tag == "tg-emoji":
            if not attr.get("emoji-id"):
                self._fail(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {at}')
            entity = {"type": "custom_emoji", "custom_emoji_id": attr["emoji-id"]}
        elif tag == "blockquote" and "expandable" in attr:
            entity = {"type": "expandable_blockquote"}
        elif tag == "code" and self.stack and self.stack[-1][0] == "pre":
            language = attr.get("class", "")
            pre_entity = self.stack[-1][2]
            if language.startswith("language-") and pre_entity is not None:
                pre_entity["language"] = language[len("language-") :]
                entity = None  # merged into the enclosing pre entity, as Telegram does
            else:
                entity = {"type": "code"}
        else:
            entity = {"type": _SIMPLE_TAGS[tag]}
        self.stack.append((tag, self.pos16, entity, len(self.parts)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        at = self._byte_offset(self._char_offset())
        self._fail(f'Unsupported start tag "{tag}/" at byte offset {at}')

    def handle_endtag(self, tag: str) -> None:
        at = self._byte_offset(self._char_offset())
        if not self.stack:
            self._fail(f"Unexpected end tag at byte offset {at}")
        open_tag, start16, entity, parts_index = self.stack.pop()
        if open_tag != tag:
            self._fail(
                f'Unmatched end tag at byte offset {at}, expected "</{open_tag}>", found "</{tag}>"'
            )
        length = self.pos16 - start16
        if entity is not None and length > 0:
            if entity["type"] == "text_link" and not entity["url"]:
                entity["url"] = "".join(self.parts[parts_index:])  # <a> without href
            self.entities.append({**entity, "offset": start16, "length": length})

    # -- text
    def handle_data(self, data: str) -> None:
        start = self._char_offset()
        lt = data.find("<")
        if lt >= 0:  # a '<' that does not open a valid tag; report it the way Telegram does
            at = self._byte_offset(start + lt)
            name = re.match(r"[^\s>]*", self.source[start + lt + 1 :]).group(0)  # type: ignore[union-attr]
            if start + lt + 1 + len(name) >= len(self.source):
                self._fail(f"Unclosed start tag at byte offset {at}")
            self._fail(f'Unsupported start tag "{name}" at byte offset {at}')
        if "&" in data and self.strict_entities:
            at = self._byte_offset(start + data.index("&"))
            self._fail(f"Character '&' must be escaped as &amp; at byte offset {at}")
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        start = self._char_offset()
        raw = f"&{name};"
        has_semicolon = self.source.startswith(raw, start)
        if name in _NAMED_ENTITIES and (has_semicolon or not self.strict_entities):
            self._emit(_NAMED_ENTITIES[name])
            return
        if self.strict_entities:
            at = self._byte_offset(start)
            self._fail(f'Unsupported HTML entity "&{name}" at byte offset {at}')
        self._emit(raw if has_semicolon else f"&{name}")

    def handle_charref(self, name: str) -> None:
        start = self._char_offset()
        raw = f"&#{name};"
        has_semicolon = self.source.startswith(raw, start)
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
            char = chr(code) if 0 < code < 0x110000 else None
        except ValueError:
            char = None
        if char is not None and (has_semicolon or not self.strict_entities):
            self._emit(char)
            return
        if self.strict_entities:
            at = self._byte_offset(start)
            self._fail(f'Unsupported HTML entity "&#{name}" at byte offset {at}')
        self._emit(raw if has_semicolon else f"&#{name}")

    def _unsupported(self, what: str) -> None:
        at = self._byte_offset(self._char_offset())
        self._fail(f'Unsupported start tag "{what}" at byte offset {at}')

    def handle_comment(self, data: str) -> None:
        self._unsupported("!--")

    def handle_decl(self, decl: str) -> None:
        self._unsupported("!" + decl.split()[0] if decl.split() else "!")

    def handle_pi(self, data: str) -> None:
        self._unsupported("?")

    def unknown_decl(self, data: str) -> None:
        self._unsupported("![")

    def finish(self) -> tuple[str, list[dict[str, Any]]]:
        self.close()
        if self.stack:
            self._fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"')
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def parse_telegram_html(text: str, strict_entities: bool = True) -> tuple[str, list[dict]]:
    """Parse Telegram-flavoured HTML into (visible text, message entities).

    Entity offsets/lengths are in UTF-16 code units, like Telegram's. Raises
    HtmlParseError with a Telegram-style description on malformed input.
    """
    parser = _TelegramHtml(text, strict_entities)
    parser.feed(text)
    return parser.finish()


# --------------------------------------------------------------------------- params


def _decode_value(key: str, value: Any) -> Any:
    if key in _STRING_FIELDS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return {}
    if ctype == "application/json":
        data = json.loads(body.decode("utf-8"))
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request: parameters must be a JSON object")
        return data
    if ctype == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        params: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                params[name] = {"_file": filename, "_size": len(payload)}
            else:
                charset = part.get_content_charset() or "utf-8"
                params[name] = payload.decode(charset, "replace")
        return params
    # application/x-www-form-urlencoded (and anything else that looks like it)
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def _as_int(value: Any, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid integer value {value!r}") from None


def _chat_key(chat_id: Any) -> int | str:
    if isinstance(chat_id, bool):
        raise ApiError(400, "Bad Request: chat not found")
    if isinstance(chat_id, int):
        return chat_id
    s = str(chat_id).strip()
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    if s.startswith("@") and len(s) > 1:
        return s.lower()
    raise ApiError(400, "Bad Request: chat not found")


# --------------------------------------------------------------------------- HTTP layer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Telegram takes dozens of simultaneous connections; the default listen backlog (5)
    # dropped some of a 30-chat burst (httpx.ReadError) before the fake ever saw them.
    request_queue_size = 128
    fake: FakeBotAPI

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            self.fake.errors.append(exc)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeBotAPI/1.0"
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers after stop()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        arrived = time.monotonic()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = self.server.fake
        status, payload = fake._handle_http(
            url.path, url.query, self.headers.get("Content-Type", ""), body, arrived
        )
        route = _PATH.match(url.path)
        delay = fake.answer_delay.get(route.group("method")) if route else None
        if delay:  # the call took effect; its answer is slow (a busy Bot API, a slow link)
            time.sleep(delay)
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. a cancelled long poll)


# --------------------------------------------------------------------------- the fake


_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)/?$")


class FakeBotAPI:
    """In-process fake of api.telegram.org for python-telegram-bot; see module docstring."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "news_monitor_test_bot",
        *,
        max_long_poll: float = 2.0,
        strict_entities: bool = True,
    ):
        self.token = token
        self.bot_username = bot_username
        self.max_long_poll = max_long_poll
        self.strict_entities = strict_entities
        try:
            self.bot_id = int(token.split(":", 1)[0])
        except ValueError:
            self.bot_id = 123456
        self.errors: list[BaseException] = []  # exceptions inside the fake (bugs), for asserts
        # method -> seconds every answer waits after the call took effect
        self.answer_delay: dict[str, float] = {}

        self._cond = threading.Condition(threading.RLock())
        self._calls: list[Call] = []
        self._sent: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._poll_generation = 0
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._next_message_id: dict[int | str, int] = {}
        self._messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._blocked: set[int | str] = set()
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._callback_queries: dict[str, dict[str, Any]] = {}
        self._callback_answers: list[dict[str, Any]] = []
        self._next_callback_id = 1
        self._stopping = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendChatAction": self._send_chat_action,
            "close": lambda params: True,
            "logOut": lambda params: True,
        }
        self._canonical = {name.lower(): name for name in self._methods}

    # ----------------------------------------------------------------- lifecycle

    def start(self, port: int = 0) -> FakeBotAPI:
        """Serve on 127.0.0.1:`port` (0: any free port)."""
        if self._server is not None:
            raise RuntimeError("FakeBotAPI already started")
        server = _Server(("127.0.0.1", port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeBotAPI",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()  # release long polls
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeBotAPI not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """Give this to PTB as base_url; PTB appends the token: <base_url><token>/<method>."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Give this to PTB as base_file_url (file downloads are not served: 404)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ----------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[Call]:
        """Every request answered so far, in completion order (a snapshot)."""
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent_messages(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Params of successful sendMessage/editMessageText calls, in order.

        Each is a copy of the decoded params plus ``_method``, ``_plain`` (visible text:
        tags stripped, entities unescaped) and ``_message_id``.
        """
        key = None if chat_id is None else _chat_key(chat_id)
        with self._cond:
            return [
                dict(p)
                for p in self._sent
                if key is None or ("chat_id" in p and _chat_key(p["chat_id"]) == key)
            ]

    def get_message(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """The stored Message JSON as it is now (after edits), or None."""
        with self._cond:
            msg = self._messages.get((_chat_key(chat_id), int(message_id)))
            return json.loads(json.dumps(msg)) if msg is not None else None

    def callback_answers(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(a) for a in self._callback_answers]

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._commands.get(self._commands_key(scope, language_code), []))

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed through getUpdates' offset."""
        with self._cond:
            return list(self._updates)

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01
    ) -> bool:
        """Poll predicate() until truthy or timeout; blocking (don't use inside the event loop)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    async def wait_for_async(
        self, predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01
    ) -> bool:
        """Like wait_for, but yields to the event loop (use while a PTB Application runs)."""
        import asyncio

        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(interval)

    # ----------------------------------------------------------------- scripting

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` fail with `status` (queued after earlier scripts).

        429 answers carry parameters.retry_after (default 1); default descriptions are
        Telegram's ("Too Many Requests: retry after N", "Forbidden: bot was blocked by
        the user", "Bad Request", "Internal Server Error", ...).
        """
        canonical = self._canonical.get(method.lower(), method)
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(status)
            if description is None:
                try:
                    description = HTTPStatus(status).phrase
                except ValueError:
                    description = f"Error {status}"
        with self._cond:
            self._failures.setdefault(canonical, deque()).append(
                _Failure(status, description, retry_after, times)
            )

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out at once, but each answer is sent
        `seconds` later: a slow Telegram, or an answer lost on the way back."""
        canonical = self._canonical.get(method.lower(), method)
        with self._cond:
            self._delays.setdefault(canonical, deque()).extend([seconds] * times)

    def block_chat(self, chat_id: int | str) -> None:
        """sendMessage/edits/sendChatAction to this chat answer 403 (bot blocked by user)."""
        with self._cond:
            self._blocked.add(_chat_key(chat_id))

    def unblock_chat(self, chat_id: int | str) -> None:
        with self._cond:
            self._blocked.discard(_chat_key(chat_id))

    # ----------------------------------------------------------------- incoming updates

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (update_id is assigned); returns the update_id."""
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._updates.append({"update_id": update_id, **update})
            self._cond.notify_all()
            return update_id

    def push_message(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        chat_type: str = "private",
    ) -> int:
        """A user writes `text` in the chat; commands get a bot_command entity at offset 0."""
        with self._cond:
            if user_id is None:
                user_id = chat_id if chat_type == "private" else 1000
            chat = self._remember_chat(chat_id, chat_type, user_id)
            key = _chat_key(chat_id)
            message: dict[str, Any] = {
                "message_id": self._new_message_id(key),
                "date": int(time.time()),
                "chat": chat,
                "text": text,
            }
            if chat_type == "channel":
                message["sender_chat"] = chat
            else:
                message["from"] = self._user(user_id)
            if text.startswith("/"):
                command = re.match(r"\S+", text).group(0)  # type: ignore[union-attr]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
                ]
            self._messages[(key, message["message_id"])] = message
            kind = "channel_post" if chat_type == "channel" else "message"
            return self.push_update({kind: json.loads(json.dumps(message))})

    def push_callback_query(
        self, chat_id: int, data: str, message_id: int, user_id: int | None = None
    ) -> int:
        """A user presses an inline button with callback_data `data` under message_id."""
        with self._cond:
            key = _chat_key(chat_id)
            if user_id is None:
                user_id = chat_id if isinstance(key, int) and key > 0 else 1000
            message = self._messages.get((key, message_id)) or {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self._chat(key),
                "from": self._bot_user(),
                "text": "",
            }
            query_id = str(4_000_000_000 + self._next_callback_id)
            self._next_callback_id += 1
            query = {
                "id": query_id,
                "from": self._user(user_id),
                "chat_instance": f"ci{chat_id}",
                "message": json.loads(json.dumps(message)),
                "data": data,
            }
            self._callback_queries[query_id] = {"answered": False}
            return self.push_update({"callback_query": query})

    # ----------------------------------------------------------------- HTTP entry point

    def _handle_http(
        self, path: str, query: str, content_type: str, body: bytes, arrived: float
    ) -> tuple[int, dict[str, Any]]:
        match = _PATH.match(path)
        method = match.group("method") if match else path
        params: dict[str, Any] = {}
        status: int
        payload: dict[str, Any]
        try:
            raw = dict(parse_qsl(query, keep_blank_values=True))
            raw.update(_parse_body(content_type, body))
            params = {k: _decode_value(k, v) for k, v in raw.items()}
            if match is None:
                raise ApiError(404, "Not Found")
            if match.group("token") != self.token:
                raise ApiError(401, "Unauthorized")
            canonical = self._canonical.get(method.lower())
            if canonical is None:
                raise ApiError(404, "Not Found")
            method = canonical
            self._raise_scripted_failure(method)
            result = self._methods[method](params)
            status, payload = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, payload = (
                exc.status,
                {
                    "ok": False,
                    "error_code": exc.status,
                    "description": exc.description,
                },
            )
            if exc.retry_after is not None:
                payload["parameters"] = {"retry_after": exc.retry_after}
        except Exception as exc:  # a bug in the fake: make it visible to the test
            self.errors.append(exc)
            status, payload = (
                500,
                {
                    "ok": False,
                    "error_code": 500,
                    "description": f"Internal Server Error: FakeBotAPI crashed: {exc!r}",
                },
            )
        with self._cond:
            self._calls.append(Call(method, params, arrived, status, payload))
            delays = self._delays.get(method)
            delay = delays.popleft() if delays else 0.0
        if delay:  # done and recorded, but the answer is late: the client may give up on it
            time.sleep(delay)
        return status, payload

    def _raise_scripted_failure(self, method: str) -> None:
        with self._cond:
            queue = self._failures.get(method)
            if not queue:
                return
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.popleft()
        raise ApiError(failure.status, failure.description, failure.retry_after)

    # ----------------------------------------------------------------- helpers

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "News Monitor Test",
            "username": self.bot_username,
        }

    @staticmethod
    def _user(user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "username": f"user{user_id}",
            "language_code": "en",
        }

    def _remember_chat(self, chat_id: int, chat_type: str, user_id: int) -> dict[str, Any]:
        key = _chat_key(chat_id)
        if chat_type == "private":
            chat = {
                "id": key,
                "type": "private",
                "first_name": f"User{user_id}",
                "username": f"user{user_id}",
            }
        elif chat_type in ("group", "supergroup", "channel"):
            chat = {"id": key, "type": chat_type, "title": f"Test {chat_type} {chat_id}"}
        else:
            raise ValueError(f"unknown chat_type {chat_type!r}")
        self._chats[key] = chat
        return chat

    def _chat(self, key: int | str) -> dict[str, Any]:
        known = self._chats.get(key)
        if known is not None:
            return known
        if isinstance(key, str):  # "@channelname"
            chat = {
                "id": -1_009_000_000_000 - len(self._chats),
                "type": "channel",
                "title": key[1:],
                "username": key[1:],
            }
        elif key > 0:
            chat = {"id": key, "type": "private", "first_name": f"User{key}"}
        elif str(key).startswith("-100"):
            chat = {"id": key, "type": "supergroup", "title": f"Test supergroup {key}"}
        else:
            chat = {"id": key, "type": "group", "title": f"Test group {key}"}
        self._chats[key] = chat
        return chat

    def _new_message_id(self, key: int | str) -> int:
        message_id = self._next_message_id.get(key, 1)
        self._next_message_id[key] = message_id + 1
        return message_id

    def _target_chat(self, params: dict[str, Any]) -> int | str:
        if params.get("chat_id") in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        key = _chat_key(params["chat_id"])
        if key in self._blocked:
            raise ApiError(403, BLOCKED_DESCRIPTION)
        return key

    def _render(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """Validate text/parse_mode like Telegram; returns (plain text, entities)."""
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        parse_mode = str(params.get("parse_mode") or "").lower()
        if parse_mode == "html":
            try:
                plain, entities = parse_telegram_html(text, self.strict_entities)
            except HtmlParseError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif parse_mode in ("", "markdown", "markdownv2"):
            plain = text
            raw_entities = params.get("entities")
            entities = list(raw_entities) if isinstance(raw_entities, list) else []
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(plain) > MAX_MESSAGE_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        return plain, entities

    @staticmethod
    def _inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            return markup
        return None

    def _record_sent(self, method: str, params: dict[str, Any], plain: str, mid: int) -> None:
        params["_plain"] = plain
        params["_message_id"] = mid
        self._sent.append({**params, "_method": method})

    def _find_own_message(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._target_chat(params)
        message_id = _as_int(params.get("message_id"))
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        message = self._messages.get((key, message_id))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    # ----------------------------------------------------------------- methods

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _as_int(params.get("offset"), 0) or 0
        limit = min(max(_as_int(params.get("limit"), 100) or 100, 1), 100)
        try:
            timeout = float(params.get("timeout") or 0)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: invalid timeout") from None
        deadline = time.monotonic() + min(max(timeout, 0.0), self.max_long_poll)
        with self._cond:
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()  # a newer getUpdates terminates an older waiting one
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            while not self._updates and not self._stopping:
                if self._poll_generation != generation:
                    raise ApiError(409, CONFLICT_DESCRIPTION)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return json.loads(json.dumps(self._updates[:limit]))

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            key = self._target_chat(params)
            plain, entities = self._render(params)
            chat = self._chat(key)
            message: dict[str, Any] = {
                "message_id": self._new_message_id(key),
                "from": self._bot_user(),
                "chat": chat,
                "date": int(time.time()),
                "text": plain,
            }
            if entities:
                message["entities"] = entities
            markup = self._inline_markup(params)
            if markup is not None:
                message["reply_markup"] = markup
            reply = params.get("reply_parameters")
            reply_to = reply.get("message_id") if isinstance(reply, dict) else None
            reply_to = reply_to or params.get("reply_to_message_id")
            original = self._messages.get((key, _as_int(reply_to, 0) or 0))
            if original is not None:  # Telegram nests replies one level deep only
                message["reply_to_message"] = {
                    k: v for k, v in original.items() if k != "reply_to_message"
                }
            self._messages[(key, message["message_id"])] = message
            self._record_sent("sendMessage", params, plain, message["message_id"])
            return json.loads(json.dumps(message))

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        with self._cond:
            if params.get("inline_message_id"):
                plain, _ = self._render(params)
                self._record_sent("editMessageText", params, plain, 0)
                return True
            message = self._find_own_message(params)
            plain, entities = self._render(params)
            markup = self._inline_markup(params)  # no reply_markup => keyboard removed
            if (
                plain == message.get("text")
                and entities == message.get("entities", [])
                and markup == message.get("reply_markup")
            ):
                raise ApiError(400, NOT_MODIFIED_DESCRIPTION)
            message["text"] = plain
            message["edit_date"] = int(time.time())
            for name, value in (("entities", entities), ("reply_markup", markup)):
                if value:
                    message[name] = value
                else:
                    message.pop(name, None)
            self._record_sent("editMessageText", params, plain, message["message_id"])
            return json.loads(json.dumps(message))

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        with self._cond:
            if params.get("inline_message_id"):
                return True
            message = self._find_own_message(params)
            markup = self._inline_markup(params)
            if markup == message.get("reply_markup"):
                raise ApiError(400, NOT_MODIFIED_DESCRIPTION)
            if markup:
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
            message["edit_date"] = int(time.time())
            return json.loads(json.dumps(message))

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        with self._cond:
            query_id = str(params.get("callback_query_id") or "")
            state = self._callback_queries.get(query_id)
            if state is None or state["answered"]:
                raise ApiError(400, CALLBACK_TOO_OLD_DESCRIPTION)
            state["answered"] = True
            self._callback_answers.append(dict(params))
            return True

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 items")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            description = command.get("description") if isinstance(command, dict) else None
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        with self._cond:
            key = self._commands_key(params.get("scope"), params.get("language_code"))
            self._commands[key] = [dict(c) for c in commands]
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands(params.get("scope"), params.get("language_code") or "")

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        with self._cond:
            key = self._commands_key(params.get("scope"), params.get("language_code"))
            self._commands.pop(key, None)
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates") in (True, "true", "True", 1):
            with self._cond:
                self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            pending = len(self._updates)
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        with self._cond:
            self._target_chat(params)
        return True
