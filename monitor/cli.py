"""The command line. Exit codes: 0 ok, 1 runtime failure, 2 bad input or config.

User errors print one line saying what and where (plus a hint), never a
traceback; `-v` shows the traceback for bug reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from . import __version__, feedcmd
from .config import Config, load_config
from .deliver.console import ConsoleSink
from .errors import MonitorError, UserError
from .library import WatchlistLibrary
from .logsetup import setup_logging
from .matcher import Matcher
from .models import Article
from .store import Store
from .watchlists import check_watchlists, load_watchlists

log = logging.getLogger("monitor")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"news-monitor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default: config)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config", metavar="PATH", help="config TOML (default: ./config.toml if present)"
        )
        return p

    with_config(sub.add_parser("run", help="the worker: scheduler, poller, digests, bot"))
    poll = with_config(sub.add_parser("poll", help="poll the feeds"))
    poll.add_argument("--once", action="store_true", required=True, help="one cycle, then exit")

    match = sub.add_parser("match", help="match JSON lines against watchlists (stdin/stdout)")
    match.add_argument(
        "--watchlists", required=True, metavar="PATH", help="a watchlist file or folder"
    )
    match.add_argument(
        "--input", required=True, metavar="FILE", help="JSON lines file, or - for stdin"
    )

    wl = sub.add_parser("watchlists", help="watchlist tools")
    wl_sub = wl.add_subparsers(dest="watchlists_command", metavar="ACTION")
    wl_sub.required = True
    check = with_config(wl_sub.add_parser("check", help="validate watchlists"))
    check.add_argument("path", nargs="?", help="file or folder (default: the config's watchlists)")

    digest = with_config(sub.add_parser("digest", help="show or render a day's digest"))
    digest.add_argument("--date", help="YYYY-MM-DD in [digest] timezone (default: today)")
    digest.add_argument("--html", metavar="FILE", help="also write the standalone HTML page here")

    status = with_config(sub.add_parser("status", help="health of the worker"))
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--check", action="store_true", help="exit 1 when polling is stale or the outbox is stuck"
    )

    feedcmd.add_parser(sub, with_config)

    demo = sub.add_parser(
        "demo", help="offline demo: bundled feeds, one cycle, alerts and a digest"
    )
    demo.add_argument(
        "--watchlists",
        metavar="PATH",
        default="watchlists",
        help="watchlists to use (default: ./watchlists)",
    )
    demo.add_argument(
        "--keep", metavar="DIR", help="keep the demo database and digest pages in DIR"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        level = args.log_level or _config_log_level(args)
        setup_logging(level)
        return COMMANDS[_command_name(args)](args)
    except MonitorError as exc:
        if args.verbose:
            log.exception("failed")
        print(f"monitor: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _command_name(args: argparse.Namespace) -> str:
    if args.command == "watchlists":
        return f"watchlists {args.watchlists_command}"
    return args.command


def _config_log_level(args: argparse.Namespace) -> str:
    if getattr(args, "config", None) is None and not Path("config.toml").is_file():
        return "INFO"
    try:
        return load_config(getattr(args, "config", None)).logging.level
    except MonitorError:
        return "INFO"  # the command itself reports the config error


# -- commands -------------------------------------------------------------------------
def cmd_poll(args: argparse.Namespace) -> int:
    from .stop import stop_on_signals
    from .worker import poll_cycle, sync_config_feeds

    rt = build_runtime(load_config(args.config))
    sync_config_feeds(rt)

    async def poll_once():
        with stop_on_signals(rt.stopping) as received:
            return await poll_cycle(rt), received

    report, received = asyncio.run(poll_once())
    print(report.summary(), file=sys.stderr)
    for error in report.errors:
        print(f"  failed: {error}", file=sys.stderr)
    if report.interrupted:  # the feed in flight was stored; the rest wait for the next cycle
        print(f"stopped by {received[0] if received else 'a stop request'}", file=sys.stderr)
        return 130 if received == ["SIGINT"] else 143
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import run_worker

    return asyncio.run(run_worker(load_config(args.config)))


def cmd_match(args: argparse.Namespace) -> int:
    matcher = Matcher(load_watchlists(Path(args.watchlists)))
    source = sys.stdin if args.input == "-" else _open_input(args.input)
    bad = 0
    with source:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            article = _article_from_json(line, args.input, number)
            if article is None:
                bad += 1
                continue
            hits = matcher.match(article)
            out = {
                "id": article.id,
                "hits": [
                    {
                        "watchlist": h.watchlist,
                        "topic": h.topic,
                        "term": h.term,
                        "score": h.score,
                        "snippet": h.snippet,
                    }
                    for h in hits
                ],
            }
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 2 if bad else 0


def _open_input(path: str):
    try:
        return open(path, encoding="utf-8")  # noqa: SIM115 - closed by the caller's with
    except OSError as exc:
        raise UserError(f"{path}: cannot read input: {exc.strerror}") from exc


def _article_from_json(line: str, source: str, number: int) -> Article | None:
    where = f"{'stdin' if source == '-' else source}:{number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        print(f"{where}: not JSON: {exc.msg}", file=sys.stderr)
        return None
    if not isinstance(data, dict) or "id" not in data:
        print(f'{where}: expected an object with "id", "title", "summary"', file=sys.stderr)
        return None
    fields = {k: data.get(k) or "" for k in ("title", "summary", "content")}
    if not all(isinstance(v, str) for v in fields.values()):
        print(f"{where}: title, summary and content must be strings", file=sys.stderr)
        return None
    return Article(id=str(data["id"]), feed_url="", url="", **fields)


def cmd_watchlists_check(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else load_config(args.config).watchlists.path
    report = check_watchlists(path)
    for warning in report.warnings:
        print(f"{warning} (warning)", file=sys.stderr)
    for error in report.errors:
        print(error, file=sys.stderr)
    if not report.ok:
        return 2
    topics = sum(len(w.topics) for w in report.watchlists)
    print(f"ok: {len(report.watchlists)} watchlists, {topics} topics in {path}")
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    from .digest import build_digest, render_html_page, render_text

    config = load_config(args.config)
    tz = ZoneInfo(config.digest.timezone)
    day = _parse_date(args.date) if args.date else datetime.now(tz).date()
    since = datetime.combine(day, time(0), tz)
    until = datetime.combine(day + timedelta(days=1), time(0), tz)
    store = open_store(config)
    titles = _topic_titles(config)
    digest = build_digest(store.hits_between(since, until), day.isoformat(), tz, titles)
    print(render_text(digest))
    if args.html:
        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        Path(args.html).write_text(render_html_page(digest), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def _parse_date(text: str):
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise UserError(f"--date {text}: expected YYYY-MM-DD") from exc


def _topic_titles(config: Config) -> dict[tuple[str, str], str]:
    report = check_watchlists(config.watchlists.path)
    return {(w.id, t.id): t.title for w in report.watchlists for t in w.topics}


def cmd_status(args: argparse.Namespace) -> int:
    from .status import collect_status, format_status

    config = load_config(args.config)
    status = collect_status(open_store(config), config, datetime.now(ZoneInfo("UTC")))
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 1 if args.check and not status["healthy"] else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.watchlists), Path(args.keep) if args.keep else None)


# -- shared building blocks ----------------------------------------------------------
def open_store(config: Config) -> Store:
    return Store(config.storage.path)


def build_runtime(config: Config, sinks: list | None = None, telegram_enabled: bool = False):
    from .worker import Runtime

    library = WatchlistLibrary(config.watchlists.path)
    store = open_store(config)
    default_sinks = [ConsoleSink(ZoneInfo(config.digest.timezone))]
    return Runtime(
        config=config,
        store=store,
        library=library,
        sinks=(sinks or []) + default_sinks,
        telegram_enabled=telegram_enabled,
    )


def telegram_token() -> str | None:
    return os.environ.get("TELEGRAM_BOT_TOKEN") or None


COMMANDS = {
    "run": cmd_run,
    "poll": cmd_poll,
    "match": cmd_match,
    "watchlists check": cmd_watchlists_check,
    "digest": cmd_digest,
    "status": cmd_status,
    "demo": cmd_demo,
    "feeds": feedcmd.run,
}
