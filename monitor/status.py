"""Health read from the database: what `monitor status` and the bot's /status show.

Healthy means the last successful cycle finished within three poll intervals
and no outbox message has waited longer than an hour beyond that.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .config import Config
from .store import Store
from .timeutil import iso, parse_iso


def collect_status(store: Store, config: Config, now: datetime) -> dict[str, Any]:
    tz = ZoneInfo(config.digest.timezone)
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tz)
    counts = store.status_counts(midnight)
    cycle = store.last_cycle()
    interval = config.poll.interval_seconds
    stale_after = timedelta(seconds=3 * interval)
    stuck_after = stale_after + timedelta(hours=1)
    last_finished = parse_iso(cycle["finished_at"]) if cycle else None
    oldest = parse_iso(counts["outbox_oldest_pending"])
    problems = []
    if last_finished is None:
        problems.append("no poll cycle has finished yet")
    elif now - last_finished > stale_after:
        problems.append(
            f"polling is stale: last cycle finished {_ago(now - last_finished)} ago "
            f"(more than 3 × {interval}s)"
        )
    if oldest and now - oldest > stuck_after:
        problems.append(f"outbox is stuck: a message has waited {_ago(now - oldest)}")
    return {
        "healthy": not problems,
        "problems": problems,
        "now": iso(now),
        "last_cycle_at": cycle["finished_at"] if cycle else None,
        "last_cycle_seconds": round(cycle["duration"], 2) if cycle and cycle["duration"] else None,
        "last_cycle": {
            k: cycle[k] for k in ("feeds_ok", "feeds_failed", "articles_new", "hits_new")
        }
        if cycle
        else None,
        **counts,
        "failing_feeds": store.failing_feeds()[:20],
    }


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def format_status(status: dict[str, Any]) -> str:
    lines = [
        f"health: {'ok' if status['healthy'] else 'PROBLEM'}",
        *(f"  - {p}" for p in status["problems"]),
        f"last cycle: {status['last_cycle_at'] or 'never'}"
        + (f" ({status['last_cycle_seconds']}s)" if status["last_cycle_seconds"] else ""),
        f"feeds: {status['feeds_ok']} ok, {status['feeds_failing']} failing, {status['feeds_total']} total",
        f"articles stored: {status['articles']}; hits today: {status['hits_today']}",
        f"outbox: {status['outbox_pending']} pending, {status['outbox_failed']} failed"
        + (
            f", oldest pending {status['outbox_oldest_pending']}"
            if status["outbox_oldest_pending"]
            else ""
        ),
        f"subscribers: {status['subscribers']}",
    ]
    for feed in status["failing_feeds"]:
        lines.append(f"  failing: {feed['url']} ×{feed['failures']}: {feed['last_error']}")
    return "\n".join(lines)
