"""Relevance feedback: the 👍 / 👎 buttons under alerts and digest entries, and the votes.

Buttons are Bot API JSON (`{"inline_keyboard": [[{"text", "callback_data"}]]}`)
stored in the outbox payload, so a message queued before a restart still has
them. Their callback data is `vote:r:<token>` or `vote:n:<token>`: the token
(`Store.add_vote_target`) stands for the hits behind the button, which keeps
it far below Telegram's 64 bytes however many outlets a digest entry lists.
A vote lands on each of those hits for the voting chat; voting again changes it.
"""

from __future__ import annotations

import re
from datetime import datetime

from monitor.core.config import DigestConfig
from monitor.core.errors import UserError
from monitor.core.outbox import CONSOLE_CHAT
from monitor.digests.build import Digest
from monitor.digests.render import render_telegram_parts, render_text
from monitor.storage import Store

RELEVANT, NOT_RELEVANT = "relevant", "not_relevant"
CODES = {"r": RELEVANT, "n": NOT_RELEVANT}
LABELS = {RELEVANT: "👍 relevant", NOT_RELEVANT: "👎 not relevant"}
CHOSEN = "✅ "
DATA_RE = re.compile(r"^vote:([rn]):(\d{1,12}-[\w-]{1,16})$")
EXPIRED = "This button has expired: the story is no longer stored. Votes work on recent messages."


def vote_data(vote: str, token: str) -> str:
    code = next(c for c, v in CODES.items() if v == vote)
    return f"vote:{code}:{token}"


def parse_vote(data: str) -> tuple[str, str] | None:
    """`vote:r:17-Xb3…` -> ("relevant", "17-Xb3…"); None for anything else."""
    found = DATA_RE.match(data or "")
    return (CODES[found.group(1)], found.group(2)) if found else None


def vote_row(token: str, label: str = "") -> list[dict]:
    return [
        {"text": f"{label}{LABELS[vote]}", "callback_data": vote_data(vote, token)}
        for vote in (RELEVANT, NOT_RELEVANT)
    ]


def alert_keyboard(token: str) -> dict:
    return {"inline_keyboard": [vote_row(token)]}


def digest_keyboard(entries: list[tuple[int, str]]) -> dict | None:
    """One row per entry of the message: (entry number, token)."""
    if not entries:
        return None
    return {"inline_keyboard": [vote_row(token, f"{number}. ") for number, token in entries]}


def mark_choice(markup: dict, token: str, vote: str) -> dict:
    """The keyboard with ✅ on the chosen button of the token's row (and off its twin)."""
    chosen = vote_data(vote, token)
    rows = []
    for row in markup.get("inline_keyboard", []):
        new_row = []
        for button in row:
            data = button.get("callback_data", "")
            parsed = parse_vote(data)
            if parsed and parsed[1] == token:
                text = button["text"].removeprefix(CHOSEN)
                button = {**button, "text": CHOSEN + text if data == chosen else text}
            new_row.append(button)
        rows.append(new_row)
    return {"inline_keyboard": rows}


def cast_vote(store: Store, chat_id: str, data: str, now: datetime) -> str:
    """Store a button press; returns the confirmation to show, or raises `UserError`."""
    parsed = parse_vote(data)
    if parsed is None or not store.record_vote(parsed[1], chat_id, parsed[0], now):
        raise UserError(EXPIRED)
    if parsed[0] == RELEVANT:
        return "Thanks: marked relevant."
    return "Thanks: marked not relevant. Noisy terms get reviewed and tuned."


def digest_payloads(
    store: Store, digest: Digest, chat_id: str, now: datetime, settings: DigestConfig | None = None
) -> list[dict]:
    """The outbox payloads of a digest: plain text for the console; for a Telegram chat,
    HTML parts of the top `[digest] max_per_topic` stories of each topic, each part with a
    👍 / 👎 row per entry in it, and a link to the day's page for the rest."""
    if chat_id == CONSOLE_CHAT:
        return [{"text": render_text(digest), "date": digest.date, "part": 1, "parts": 1}]
    settings = settings or DigestConfig()
    page = f"{settings.base_url.rstrip('/')}/{digest.date}.html" if settings.base_url else None
    parts = render_telegram_parts(digest.capped(settings.max_per_topic), page)
    payloads = []
    for index, part in enumerate(parts, start=1):
        tokens = [
            (number, store.add_vote_target(hits, chat_id, now)) for number, hits in part.entries
        ]
        payload = {"text": part.text, "date": digest.date, "part": index, "parts": len(parts)}
        keyboard = digest_keyboard(tokens)
        if keyboard:
            payload["reply_markup"] = keyboard
        payloads.append(payload)
    return payloads
