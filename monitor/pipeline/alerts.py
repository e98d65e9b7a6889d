"""Instant alerts: one outbox row per (chat, article) for its high-priority hits.

Several topics of one article are one alert. Without Telegram the console
takes every alert; with it, each subscribed chat gets the hits on its own
subscriptions, rendered now in its own time zone (what is queued is what is sent). A muted chat's alerts are
queued as held: they are sent, in order, once the mute is over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from monitor.core.models import Article, Hit, Subscription
from monitor.core.outbox import ALERT, CONSOLE_CHAT, alert_key
from monitor.delivery.render import alert_payload, render_alert
from monitor.digests.feedback import alert_keyboard
from monitor.pipeline.runtime import Runtime


def queue_alerts(
    rt: Runtime, articles: Sequence[Article], hits: Sequence[Hit], now: datetime
) -> int:
    """One outbox row per (chat, article) for high-priority hits; several topics, one alert."""
    urgent: dict[str, list[Hit]] = {}
    for hit in hits:
        if hit.priority == "high":
            urgent.setdefault(hit.article_id, []).append(hit)
    if not urgent:
        return 0
    by_id = {a.id: a for a in articles}
    recipients = alert_recipients(rt, now)
    muted = rt.store.muted_chats(now) if rt.telegram_enabled else set()
    titles = rt.library.topic_titles()
    queued = 0
    for article_id, article_hits in urgent.items():
        for chat_id, (wanted, tz) in recipients.items():
            chosen = [h for h in article_hits if wanted(h.watchlist, h.topic)]
            if not chosen:
                continue
            payload = alert_payload(by_id[article_id], chosen, titles)
            payload["timezone"] = tz
            payload["text"] = render_alert(payload, chat_id)
            if chat_id != CONSOLE_CHAT:  # 👍 / 👎 under every Telegram alert
                hit_ids = rt.store.hit_ids(article_id, [(h.watchlist, h.topic) for h in chosen])
                payload["reply_markup"] = alert_keyboard(
                    rt.store.add_vote_target(hit_ids, chat_id, now)
                )
            queued += rt.store.enqueue(
                chat_id,
                ALERT,
                alert_key(chat_id, article_id),
                payload,
                now,
                held=chat_id in muted,
            )
    return queued


def _everything(watchlist: str, topic: str) -> bool:
    return True


def _wants_any(subs: list[Subscription]) -> Callable[[str, str], bool]:
    return lambda watchlist, topic: any(s.wants(watchlist, topic) for s in subs)


def alert_recipients(
    rt: Runtime, now: datetime
) -> dict[str, tuple[Callable[[str, str], bool], str]]:
    """chat id -> (does it want watchlist/topic, its time zone). The console takes all."""
    default_tz = rt.config.digest.timezone
    if not rt.telegram_enabled:
        return {CONSOLE_CHAT: (_everything, default_tz)}
    subs_by_chat: dict[str, list[Subscription]] = {}
    for sub in rt.store.subscriptions(active_only=True):
        subs_by_chat.setdefault(sub.chat_id, []).append(sub)
    return {
        chat_id: (
            _wants_any(subs),
            subs[0].timezone or default_tz,
        )
        for chat_id, subs in subs_by_chat.items()
    }
