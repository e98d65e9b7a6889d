"""Operator notices that go through the outbox like every other message.

- a watchlist edit that fails validation: the admins are told once per change
  (the library reports a broken state once), with every `file:line: message`,
  and that the previous watchlists stay in force;
- a watchlist file that disappears: its subscribers are told, once.
Without Telegram the notices go to the console.
"""

from __future__ import annotations

import hashlib
import html
import logging
from datetime import datetime

from monitor.core.config import Config
from monitor.core.outbox import (
    CONSOLE_CHAT,
    NOTICE,
    rejected_watchlists_key,
    removed_watchlist_key,
)
from monitor.core.timeutil import iso
from monitor.delivery.msglimit import cut_text
from monitor.matching.library import ReloadOutcome
from monitor.storage import Store

log = logging.getLogger(__name__)
MAX_ERRORS_SHOWN = 15
ERROR_LINE_MAX = 250  # 15 of them still fit one Telegram message (a term can be 2,000 letters)


def queue_reload_notices(
    store: Store, config: Config, telegram_enabled: bool, outcome: ReloadOutcome, now: datetime
) -> int:
    queued = 0
    if outcome.errors:
        digest = hashlib.sha1("\n".join(outcome.errors).encode()).hexdigest()[:12]
        admins = [str(a) for a in config.telegram.admins] if telegram_enabled else []
        for chat_id in admins or [CONSOLE_CHAT]:
            text = _rejected_text(outcome.errors, escape=chat_id != CONSOLE_CHAT)
            key = rejected_watchlists_key(chat_id, iso(now), digest)
            queued += store.enqueue(chat_id, NOTICE, key, {"text": text}, now)
    for watchlist in outcome.removed:
        chats = store.subscribers_of(watchlist) if telegram_enabled else []
        name = cut_text(watchlist, 200)
        for chat_id in chats:
            text = (
                f"The watchlist <b>{html.escape(name)}</b> you follow was removed by the "
                "operator, so it sends nothing for now. Your subscription is kept: if it comes "
                f"back you get its alerts again. /unsubscribe {html.escape(name)} drops it."
            )
            key = removed_watchlist_key(chat_id, watchlist, iso(now))
            queued += store.enqueue(chat_id, NOTICE, key, {"text": text}, now)
        log.warning("watchlist removed watchlist=%s subscribers_told=%d", watchlist, len(chats))
    return queued


def _rejected_text(errors: tuple[str, ...], escape: bool) -> str:
    shown = [cut_text(error, ERROR_LINE_MAX) for error in errors[:MAX_ERRORS_SHOWN]]
    if len(errors) > MAX_ERRORS_SHOWN:
        shown.append(f"… and {len(errors) - MAX_ERRORS_SHOWN} more")
    if not escape:
        return "Watchlist change rejected; the previous watchlists stay in force:\n" + "\n".join(
            shown
        )
    lines = "\n".join(html.escape(e) for e in shown)
    return (
        "⚠️ <b>Watchlist change rejected</b>; the previous watchlists stay in force. "
        f"Fix and save again:\n<pre>{lines}</pre>"
    )
