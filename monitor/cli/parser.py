"""The argument parser of `monitor`: every command, its options and its help."""

from __future__ import annotations

import argparse

from monitor import __version__
from monitor.cli import feeds as feedcmd


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
        "--days", type=positive_int, default=30, help="articles stored in the last N days (30)"
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
        "--min-count", type=positive_int, default=2, help="names and phrases seen N× or more (2)"
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
        "--days", type=positive_int, default=30, help="hits stored in the last N days (30)"
    )
    stats.add_argument("--json", action="store_true", help="machine-readable output")

    status = with_config(sub.add_parser("status", help="health of the worker"))
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--check", action="store_true", help="exit 1 when polling is stale or the outbox is stuck"
    )

    migrate = with_config(
        sub.add_parser(
            "migrate",
            help="show and apply pending schema migrations, or copy SQLite into PostgreSQL",
        )
    )
    only = migrate.add_mutually_exclusive_group()
    only.add_argument(
        "--dry-run",
        "--list",
        dest="dry_run",
        action="store_true",
        help="only show the applied and pending migrations",
    )
    only.add_argument(
        "--to",
        metavar="URL",
        help="copy the SQLite database ([storage] path) into this empty PostgreSQL database",
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


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return int(text)
