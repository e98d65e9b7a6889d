"""Queueing a chat's digest, and keeping the day's archive page current.

`queue_digest` is called by the scheduler at each subscriber's own time, by
/digest, and by the console's daily job; `update_archive` after every poll
cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.core.outbox import DIGEST, digest_key, part_key
from monitor.core.timeutil import parse_iso
from monitor.digests.archive import refresh_archive
from monitor.digests.build import build_digest
from monitor.digests.feedback import digest_payloads
from monitor.pipeline.runtime import Runtime

log = logging.getLogger(__name__)


def queue_digest(
    rt: Runtime,
    chat_id: str,
    now: datetime,
    tz_name: str | None = None,
    wants: Callable[[str, str], bool] | None = None,
) -> int:
    """Queue a chat's digest of the hits since its previous one; returns the messages queued.

    The window is by hit id, not by time: no gap and no overlap across restarts,
    clock changes and time-zone changes. One digest per local date in the chat's
    zone at the time: a chat that moved west and meets a date again still gets
    that day's digest (its key then names the zone). A chat's first digest covers
    the last day.
    """
    tz = ZoneInfo(tz_name or rt.config.digest.timezone)
    date = now.astimezone(tz).date().isoformat()
    chat: Mapping[str, Any] = rt.store.chat(chat_id) or {}
    last_at = parse_iso(chat.get("last_digest_at"))
    if last_at is not None and last_at.astimezone(tz).date().isoformat() == date:
        return 0  # today's digest went out already
    key = digest_key(chat_id, date)
    if rt.store.outbox_key_exists(key):
        key = digest_key(chat_id, date, zone=tz.key)
    after = chat.get("last_digest_hit_id")
    if after is None:
        after = rt.store.last_hit_id(before=now - timedelta(days=1))
    rows = rt.store.hits_after(after)
    last_id = max((r["hit_id"] for r in rows), default=after)
    rows = [r for r in rows if wants is None or wants(r["watchlist"], r["topic"])]
    digest = build_digest(
        rows, date, tz, rt.library.topic_titles(), rt.library.watchlist_titles(), now
    )
    queued = 0
    with rt.store.transaction():
        rt.store.update_chat(chat_id, now)
        send = digest.topics or rt.config.digest.send_empty
        payloads = digest_payloads(rt.store, digest, chat_id, now, rt.config.digest) if send else []
        for index, payload in enumerate(payloads):
            queued += rt.store.enqueue(chat_id, DIGEST, part_key(key, index + 1), payload, now)
        if queued or not payloads:
            rt.store.record_digest(chat_id, date, digest.hit_count, last_id, now)
    log.info(
        "digest queued chat=%s date=%s hits=%d parts=%d", chat_id, date, digest.hit_count, queued
    )
    return queued


def update_archive(rt: Runtime) -> None:
    """Today's (and yesterday's) digest page, if a hit or vote is newer than it; a disk
    problem is logged, never a reason to lose the cycle."""
    try:
        refresh_archive(
            rt.store,
            rt.config.digest.html_dir,
            rt.default_tz,
            rt.library.topic_titles(),
            rt.library.watchlist_titles(),
            rt.clock(),
        )
    except OSError as exc:
        log.warning("digest pages not written dir=%s error=%s", rt.config.digest.html_dir, exc)
