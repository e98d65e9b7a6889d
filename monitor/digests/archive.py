"""The digest archive: one page per local day in `[digest] html_dir`, plus index.html.

A day's page holds every hit created on that date in `[digest] timezone`,
whoever subscribes to what: the same digest `monitor digest --date` prints.
The worker calls `refresh_archive` after every poll cycle, with or without
Telegram; it rewrites today's page, and yesterday's, whenever a hit or a
relevance vote was stored after the page was written (so yesterday's page
also picks up the votes cast on the morning digest). Older pages stay as they
are; `monitor digest --date YYYY-MM-DD --html FILE` regenerates any day.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.core.timeutil import local_at
from monitor.digests.build import Digest, build_digest
from monitor.digests.page import page_generated_at, write_index, write_page
from monitor.storage import Store

log = logging.getLogger(__name__)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to local midnight (23 or 25 hours on a daylight-saving change)."""
    return local_at(day, time(0), tz), local_at(day + timedelta(days=1), time(0), tz)


def digest_for_day(
    store: Store,
    day: date,
    tz: ZoneInfo,
    topic_titles: Mapping[tuple[str, str], str],
    watchlist_titles: Mapping[str, str],
    now: datetime,
) -> Digest:
    since, until = day_bounds(day, tz)
    rows = store.hits_between(since, until)
    return build_digest(rows, day.isoformat(), tz, topic_titles, watchlist_titles, now)


def refresh_archive(
    store: Store,
    html_dir: Path,
    tz: ZoneInfo,
    topic_titles: Mapping[tuple[str, str], str],
    watchlist_titles: Mapping[str, str],
    now: datetime,
) -> list[Path]:
    """Rewrite today's and yesterday's pages if a hit or vote is newer than them; returns the
    pages written. Yesterday's page is only created when yesterday had hits (a fresh
    install does not invent an empty day it never watched)."""
    changed = store.last_change_at()
    today = now.astimezone(tz).date()
    written = []
    for day in (today - timedelta(days=1), today):
        page = html_dir / f"{day.isoformat()}.html"
        generated = page_generated_at(page) if page.exists() else None
        if generated is not None and (changed is None or changed < generated):
            continue
        digest = digest_for_day(store, day, tz, topic_titles, watchlist_titles, now)
        if day != today and not page.exists() and not digest.topics:
            continue
        written.append(write_page(digest, html_dir))
    if written or not (html_dir / "index.html").exists():
        html_dir.mkdir(parents=True, exist_ok=True)
        write_index(html_dir)
    return written
