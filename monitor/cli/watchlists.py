"""Watchlist commands: `monitor match`, `watchlists check`, `backtest`, `seeds suggest`.

They read watchlists and stored or given articles; none of them needs the worker.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from monitor.core.config import load_config
from monitor.core.errors import UserError
from monitor.core.models import Article
from monitor.matching.library import compile_matcher
from monitor.matching.watchlists import CheckReport, Watchlist, check_watchlists, load_watchlists
from monitor.pipeline.runtime import open_existing_store
from monitor.text.textnorm import plural


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


def _open_input(path: str) -> TextIO:
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
    return Article(
        id=str(data["id"]),
        feed_url="",
        url="",
        title=fields["title"],
        summary=fields["summary"],
        content=fields["content"],
    )


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


def _watchlists_to_compare(args: argparse.Namespace) -> list[Watchlist] | None:
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
