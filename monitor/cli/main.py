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
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor import __version__
from monitor.cli import feeds as feedcmd
from monitor.core.config import Config, load_config
from monitor.core.errors import MonitorError, UserError
from monitor.core.logsetup import setup_logging
from monitor.core.models import Article
from monitor.delivery.console import ConsoleSink
from monitor.matching.library import WatchlistLibrary, compile_matcher
from monitor.matching.watchlists import CheckReport, check_watchlists, load_watchlists
from monitor.storage.store import Store
from monitor.text.textnorm import plural

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
    explain = with_config(
        wl_sub.add_parser("explain", help="why each labeled article was missed or falsely hit")
    )
    explain.add_argument("labeled", help='JSON lines with "labels" or "expect" (see docs)')
    explain.add_argument(
        "path", nargs="?", help="file or folder (default: the config's watchlists)"
    )

    backtest = with_config(
        sub.add_parser("backtest", help="what a changed watchlist would catch in stored articles")
    )
    backtest.add_argument("path", help="the changed watchlist file or folder")
    backtest.add_argument(
        "--days", type=_positive_int, default=30, help="articles stored in the last N days (30)"
    )
    backtest.add_argument(
        "--against", metavar="PATH", help="compare with these watchlists (default: the config's)"
    )
    backtest.add_argument(
        "--limit", type=int, default=20, help="articles listed per section (20; 0 lists all)"
    )
    backtest.add_argument(
        "--both", action="store_true", help="also list the articles caught by both"
    )
    backtest.add_argument(
        "--labeled", metavar="FILE", help="score and explain on a labeled file instead"
    )

    seeds = sub.add_parser("seeds", help="source documents for watchlists")
    seeds_sub = seeds.add_subparsers(dest="seeds_command", metavar="ACTION")
    seeds_sub.required = True
    suggest = with_config(
        seeds_sub.add_parser("suggest", help="candidate terms from documents, as a TOML draft")
    )
    suggest.add_argument("folder", nargs="?", default="seeds", help="documents (default: seeds)")
    suggest.add_argument(
        "--min-count", type=_positive_int, default=2, help="names and phrases seen N× or more (2)"
    )
    suggest.add_argument("--limit", type=int, default=25, help="terms per section (25; 0: all)")
    suggest.add_argument(
        "--watchlists", metavar="PATH", help="mark terms these already match (default: config's)"
    )

    digest = with_config(sub.add_parser("digest", help="show or render a day's digest"))
    digest.add_argument("--date", help="YYYY-MM-DD in [digest] timezone (default: today)")
    digest.add_argument("--html", metavar="FILE", help="also write the standalone HTML page here")

    stats = with_config(
        sub.add_parser("stats", help="relevance votes per topic and term, noisiest first")
    )
    stats.add_argument(
        "--days", type=_positive_int, default=30, help="hits stored in the last N days (30)"
    )
    stats.add_argument("--json", action="store_true", help="machine-readable output")

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
        code = COMMANDS[_command_name(args)](args)
        sys.stdout.flush()  # a closed pipe fails here, inside the try, not at exit
        return code
    except MonitorError as exc:
        if args.verbose:
            log.exception("failed")
        print(f"monitor: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        if args.verbose:
            log.exception("failed")
        print(
            "monitor: error: out of memory; the data in the last transaction was not stored",
            file=sys.stderr,
        )
        print(
            "hint: lower [poll] max_bytes or max_*_chars, or give the process more memory",
            file=sys.stderr,
        )
        return 1
    except BrokenPipeError:
        # `monitor digest | head -1`: the reader has what it wanted. Quiet, as Unix tools
        # are; stdout goes to /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


def _command_name(args: argparse.Namespace) -> str:
    if args.command == "watchlists":
        return f"watchlists {args.watchlists_command}"
    if args.command == "seeds":
        return f"seeds {args.seeds_command}"
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
    from monitor.cli.run import poll_once

    report, received = asyncio.run(poll_once(load_config(args.config)))
    print(report.summary(), file=sys.stderr)
    for error in report.errors:
        print(f"  failed: {error}", file=sys.stderr)
    if report.interrupted:  # the feed in flight was stored; the rest wait for the next cycle
        print(f"stopped by {received[0] if received else 'a stop request'}", file=sys.stderr)
        return 130 if received == ["SIGINT"] else 143
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.cli.run import run_worker

    return asyncio.run(run_worker(load_config(args.config)))


def cmd_match(args: argparse.Namespace) -> int:
    matcher = compile_matcher(load_watchlists(Path(args.watchlists)))
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
    print_problems(report)
    warned = f", {plural(len(report.warnings), 'warning')}" if report.warnings else ""
    if not report.ok:
        print(f"{plural(len(report.errors), 'error')}{warned} in {path}", file=sys.stderr)
        return 2
    topics = sum(len(w.topics) for w in report.watchlists)
    counts = f"{plural(len(report.watchlists), 'watchlist')}, {plural(topics, 'topic')}"
    print(f"ok: {counts} in {path}{warned}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from monitor.matching.backtest import render_backtest, run_backtest

    config = load_config(args.config)
    candidate_path = Path(args.path)
    checked = check_watchlists(candidate_path)
    print_problems(checked)
    if not checked.ok:
        print(f"{plural(len(checked.errors), 'error')} in {candidate_path}", file=sys.stderr)
        return 2
    baseline_path = Path(args.against) if args.against else config.watchlists.path
    baseline = check_watchlists(baseline_path)
    for error in baseline.errors:
        print(f"current watchlists (skipped): {error}", file=sys.stderr)
    if args.labeled:
        from monitor.cli.explain import explain_labeled

        print(explain_labeled(checked.watchlists, Path(args.labeled), baseline.watchlists))
        return 0
    if _same_files(candidate_path, baseline_path):
        print(
            f"note: {candidate_path} is part of the current watchlists, so nothing differs; "
            "backtest an edited copy, or pass --against OLD_COPY",
            file=sys.stderr,
        )
    since = datetime.now(ZoneInfo("UTC")) - timedelta(days=args.days)
    articles = open_existing_store(config).articles_since(since)
    report = run_backtest(articles, baseline.watchlists, checked.watchlists, since)
    tz = ZoneInfo(config.digest.timezone)
    print(render_backtest(report, tz, args.days, limit=args.limit, show_both=args.both))
    return 0


def _same_files(candidate: Path, baseline: Path) -> bool:
    candidate, baseline = candidate.resolve(), baseline.resolve()
    return candidate == baseline or baseline in candidate.parents


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return int(text)


def cmd_seeds_suggest(args: argparse.Namespace) -> int:
    from monitor.seeds.candidates import find_candidates, read_documents
    from monitor.seeds.draft import covered_by, render_draft

    documents = read_documents(Path(args.folder))
    candidates = find_candidates(documents, args.min_count)
    watchlists = _watchlists_to_compare(args)
    covered = None
    if watchlists is not None:
        terms = [c.term for c in candidates] + [c.expansion for c in candidates if c.expansion]
        covered = covered_by(terms, watchlists)
    source = Path(args.folder).as_posix()
    print(render_draft(candidates, source, len(documents), covered, args.min_count, args.limit))
    return 0


def _watchlists_to_compare(args: argparse.Namespace):
    """--watchlists (must be valid), else the config's if they exist, else None."""
    if args.watchlists:
        return load_watchlists(Path(args.watchlists))
    path = load_config(args.config).watchlists.path
    if not path.exists():
        return None
    report = check_watchlists(path)
    for error in report.errors:
        print(f"skipped: {error}", file=sys.stderr)
    return report.watchlists


def print_problems(report: CheckReport) -> None:
    for error in report.errors:
        print(error, file=sys.stderr)
    for warning in report.warnings:  # `file:line: warning: message`, as compilers write it
        print(re.sub(r"^(.*?:\d+): ", r"\1: warning: ", warning, count=1), file=sys.stderr)


def cmd_digest(args: argparse.Namespace) -> int:
    from monitor.cli.digest import run_digest

    return run_digest(args)


def cmd_stats(args: argparse.Namespace) -> int:
    from monitor.cli.digest import run_stats

    return run_stats(args)


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.pipeline.status import collect_status, format_status

    config = load_config(args.config)
    status = collect_status(open_store(config), config, datetime.now(ZoneInfo("UTC")))
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 1 if args.check and not status["healthy"] else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.cli.demo import run_demo

    return run_demo(Path(args.watchlists), Path(args.keep) if args.keep else None)


# -- shared building blocks ----------------------------------------------------------
def open_store(config: Config) -> Store:
    return Store(config.storage.path, busy_timeout=config.storage.busy_timeout_seconds)


def open_existing_store(config: Config) -> Store:
    """The database, for commands that only read it: never create an empty one."""
    path = Path(config.storage.path)
    if str(path) != ":memory:" and not path.exists():
        raise UserError(
            f"{path}: no database yet", hint="collect articles first: monitor poll --once"
        )
    return open_store(config)


def build_runtime(config: Config, sinks: list | None = None, telegram_enabled: bool = False):
    from monitor.pipeline.cycle import Runtime

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
    "watchlists explain": lambda args: __import__(
        "monitor.cli.explain", fromlist=["cmd_explain"]
    ).cmd_explain(args),
    "backtest": cmd_backtest,
    "seeds suggest": cmd_seeds_suggest,
    "digest": cmd_digest,
    "stats": cmd_stats,
    "status": cmd_status,
    "demo": cmd_demo,
    "feeds": feedcmd.run,
}
