"""`monitor digest` and `monitor stats`: what the stored hits and votes say about a day
or a period, read straight from the database (the worker need not run)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.core.config import Config, load_config
from monitor.core.errors import UserError
from monitor.digests.archive import digest_for_day
from monitor.digests.page import render_html_page
from monitor.digests.render import render_text
from monitor.digests.stats import collect_stats, format_stats, stats_json
from monitor.matching.watchlists import check_watchlists
from monitor.pipeline.runtime import open_existing_store


def run_digest(args: argparse.Namespace) -> int:
    """Every hit created on one local day ([digest] timezone), as the archive page shows it,
    votes included: any past day can be regenerated from the database."""
    config = load_config(args.config)
    tz = ZoneInfo(config.digest.timezone)
    day = parse_date(args.date) if args.date else datetime.now(tz).date()
    store = open_existing_store(config)
    titles, wl_titles = watchlist_titles(config)
    digest = digest_for_day(store, day, tz, titles, wl_titles, datetime.now(UTC))
    print(render_text(digest))
    if args.html:
        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        Path(args.html).write_text(render_html_page(digest), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def run_stats(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    now = datetime.now(UTC)
    topics = collect_stats(open_existing_store(config), now, args.days, watchlist_titles(config)[0])
    since = (now - timedelta(days=args.days)).astimezone(ZoneInfo(config.digest.timezone))
    if args.json:
        print(json.dumps(stats_json(topics, since, args.days), indent=2, ensure_ascii=False))
    else:
        print(format_stats(topics, since, args.days))
    return 0


def parse_date(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise UserError(f"--date {text}: expected YYYY-MM-DD") from exc


def watchlist_titles(config: Config) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """Topic and watchlist titles, for headings (ids stand in where a file is broken)."""
    report = check_watchlists(config.watchlists.path)
    topics = {(w.id, t.id): t.title for w in report.watchlists for t in w.topics}
    return topics, {w.id: w.title for w in report.watchlists}
