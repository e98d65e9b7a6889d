"""Health read from the database: what `monitor status` and the bot's /status show.

Healthy means: a cycle finished, and some feed was fetched, within `[health]
stale_intervals` poll intervals (3); no more than `failing_share` of the feeds
(half) are failing; and no outbox message has waited an hour beyond that. A
worker whose cycles run while every feed fails is not healthy: that is what the
Docker HEALTHCHECK must catch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from monitor.core.config import Config
from monitor.core.timeutil import iso, local_midnight, parse_iso
from monitor.storage import Store

if TYPE_CHECKING:
    from monitor.storage.postgres import PgStore


def collect_status(store: Store, config: Config, now: datetime) -> dict[str, Any]:
    tz = ZoneInfo(config.digest.timezone)
    midnight = local_midnight(now, tz)
    counts = store.status_counts(midnight)
    cycle = store.last_cycle()
    interval, health = config.poll.interval_seconds, config.health
    stale_after = timedelta(seconds=health.stale_intervals * interval)
    stuck_after = stale_after + timedelta(hours=1)
    last_finished = parse_iso(cycle["finished_at"]) if cycle else None
    oldest = parse_iso(counts["outbox_oldest_pending"])
    problems = []
    if last_finished is None:
        problems.append("no poll cycle has finished yet")
    elif now - last_finished > stale_after:
        problems.append(
            f"polling is stale: last cycle finished {_ago(now - last_finished)} ago "
            f"(more than {health.stale_intervals:g} × {interval}s)"
        )
    problems += _feed_problems(counts, now, stale_after, health.failing_share, config)
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
        **_workers(store, config, now),
    }


def _workers(store: Store, config: Config, now: datetime) -> dict[str, Any]:
    """On PostgreSQL, the live workers (several may share the database): id, host, last
    heartbeat, feeds claimed now, and which one holds the bot. Nothing on SQLite."""
    if not store.shared:
        return {}
    beat = max(1.0, min(15.0, config.poll.interval_seconds / 2))  # pipeline/workers.py's
    live = cast("PgStore", store).live_workers(now, now - timedelta(seconds=3 * beat))
    holder = next((w["id"] for w in live if w["holds_bot"]), None)
    return {"workers": live, "bot_holder": holder}


def _feed_problems(
    counts: Mapping[str, Any],
    now: datetime,
    stale_after: timedelta,
    failing_share: float,
    config: Config,
) -> list[str]:
    total, failing = counts["feeds_total"], counts["feeds_failing"]
    if not total:  # config feeds are stored at the first poll: none yet is not "none at all"
        return (
            [] if config.feeds else ["no feeds: add [[feeds]] to the config or `monitor feeds add`"]
        )
    problems = []
    last_ok = parse_iso(counts["last_feed_ok_at"])
    if last_ok is None or now - last_ok > stale_after:
        when = f"for {_ago(now - last_ok)}" if last_ok else "ever"
        problems.append(
            f"no feed has been fetched successfully {when} ({failing} of {total} failing)"
        )
    elif failing / total > failing_share:
        problems.append(f"{failing} of {total} feeds are failing (more than {failing_share:.0%})")
    return problems


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
        + (f", {status['outbox_held']} held for muted chats" if status.get("outbox_held") else "")
        + (
            f", oldest pending {status['outbox_oldest_pending']}"
            if status["outbox_oldest_pending"]
            else ""
        ),
        f"subscribers: {status['subscribers']}",
    ]
    if "workers" in status:
        lines.append(
            f"workers: {len(status['workers'])} live; bot: {status['bot_holder'] or 'none'}"
        )
        for w in status["workers"]:
            lines.append(
                f"  {w['id']} on {w['host']}: heartbeat {w['heartbeat_at']},"
                f" {w['feeds_claimed']} feeds claimed, {w['feeds_polled']} polled"
                + (" (holds the bot)" if w["holds_bot"] else "")
            )
    for feed in status["failing_feeds"]:
        lines.append(f"  failing: {feed['url']} ×{feed['failures']}: {feed['last_error']}")
    return "\n".join(lines)
