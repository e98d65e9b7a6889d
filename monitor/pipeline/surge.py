"""Surge alerts: a normal-priority story that many outlets carry at once does not wait
for the digest.

Checked inside each feed's transaction, right after its articles are stored:
for every article this feed carried for the first time (a new article, or
one already stored under the same id, canonical URL or title that this feed
now carries too), count the distinct outlets that carried it within
`[digest] surge_hours`. At `surge_sources` or more, each subscriber of the
story's normal-priority topics gets one surge alert for it; the outbox key
`surge:{chat}:{article}` makes it once per story, not once per outlet. A chat
that already had the instant alert for that article gets no surge.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.core.config import DigestConfig
from monitor.core.outbox import CONSOLE_CHAT, SURGE, alert_key, surge_key
from monitor.delivery.render import render_surge
from monitor.digests.feedback import alert_keyboard
from monitor.storage import Store

Recipients = dict[str, tuple[Callable[[str, str], bool], str]]  # chat -> (wants, zone)
e = html.escape


def queue_surges(
    store: Store,
    feed_url: str,
    recipients: Callable[[], Recipients],
    topic_titles: dict[tuple[str, str], str],
    settings: DigestConfig,
    now: datetime,
) -> int:
    """Queue the surge alerts this feed's articles set off; returns how many were queued."""
    queued = 0
    chats: Recipients | None = None
    muted: set[str] = set()
    since = now - timedelta(hours=settings.surge_hours)
    for article_id in store.surge_candidates(feed_url, now):
        outlets = store.story_outlets(article_id, since)
        if len(outlets) < settings.surge_sources:
            continue
        rows = store.article_hits(article_id, priority="normal")
        if chats is None:
            chats, muted = recipients(), store.muted_chats(now)
        for chat_id, (wants, zone) in chats.items():
            chosen = [r for r in rows if wants(r["watchlist"], r["topic"])]
            key = surge_key(chat_id, article_id)
            if not chosen or store.outbox_key_exists(key):
                continue
            if store.outbox_key_exists(alert_key(chat_id, article_id)):
                continue  # the instant alert already brought this story
            payload = surge_payload(chosen, outlets, topic_titles, ZoneInfo(zone), chat_id)
            if chat_id != CONSOLE_CHAT:
                token = store.add_vote_target([r["hit_id"] for r in chosen], chat_id, now)
                payload["reply_markup"] = alert_keyboard(token)
            held = chat_id in muted  # a surge is an alert: it waits out a mute too
            queued += store.enqueue(chat_id, SURGE, key, payload, now, held=held)
    return queued


def surge_payload(
    rows: Sequence[Mapping[str, Any]],
    outlets: list[str],
    topic_titles: dict[tuple[str, str], str],
    tz: ZoneInfo,
    chat_id: str,
) -> dict:
    """Rendered now, in the chat's zone: plain text for the console, HTML for Telegram."""
    return {
        "text": render_surge(rows, outlets, topic_titles, tz, chat_id),
        "article_id": rows[0]["article_id"],
        "outlets": outlets,
    }
