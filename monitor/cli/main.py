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
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.cli import feeds as feedcmd
from monitor.cli.parser import build_parser
from monitor.cli.watchlists import (
    cmd_backtest,
    cmd_match,
    cmd_seeds_suggest,
    cmd_watchlists_check,
)
from monitor.core.config import load_config
from monitor.core.errors import MonitorError
from monitor.core.logsetup import setup_logging
from monitor.pipeline.runtime import open_store

log = logging.getLogger("monitor")


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


def cmd_migrate(args: argparse.Namespace) -> int:
    from monitor.cli.migrate import run_migrate

    return run_migrate(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.cli.demo import run_demo

    return run_demo(Path(args.watchlists), Path(args.keep) if args.keep else None)


def cmd_explain(args: argparse.Namespace) -> int:
    from monitor.cli.explain import cmd_explain as explain

    return explain(args)


COMMANDS = {
    "run": cmd_run,
    "poll": cmd_poll,
    "match": cmd_match,
    "watchlists check": cmd_watchlists_check,
    "watchlists explain": cmd_explain,
    "backtest": cmd_backtest,
    "seeds suggest": cmd_seeds_suggest,
    "digest": cmd_digest,
    "stats": cmd_stats,
    "status": cmd_status,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "feeds": feedcmd.run,
}
