"""`monitor watchlists explain LABELED [PATH]` and `monitor backtest PATH --labeled FILE`.

For a labeled file: the score per topic, then every miss with the closest rule that
almost fired and why it did not (the group that was missing, the window exceeded by
N words, the exclude that vetoed it), and every false alarm with what fired.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from monitor.core.config import load_config
from monitor.core.errors import UserError
from monitor.matching.explain import (
    evaluate,
    explain,
    overall,
    predicted,
    read_labeled,
    score_table,
)
from monitor.matching.library import compile_matcher
from monitor.matching.watchlists import Watchlist, check_watchlists


def cmd_explain(args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path else load_config(args.config).watchlists.path
    report = check_watchlists(path)
    if not report.ok:
        for error in report.errors:
            print(error, file=sys.stderr)
        return 2
    print(explain_labeled(report.watchlists, Path(args.labeled)))
    return 0


def explain_labeled(
    watchlists: Sequence[Watchlist], labeled: Path, baseline: Sequence[Watchlist] | None = None
) -> str:
    """The score table and the explanations; with `baseline`, its overall score first."""
    try:
        items = read_labeled(labeled.read_text(encoding="utf-8").splitlines(), str(labeled))
    except OSError as exc:
        raise UserError(f"{labeled}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    matcher = compile_matcher(watchlists)
    scores = evaluate(items, predicted(matcher, items))
    lines = [f"### {labeled.name} ({len(items)} articles)", ""]
    if baseline is not None:
        before = overall(evaluate(items, predicted(compile_matcher(baseline), items)))
        after = overall(scores)
        lines += [
            f"current watchlists: precision {before.precision:.3f}, recall {before.recall:.3f}",
            f"this version:       precision {after.precision:.3f}, recall {after.recall:.3f}",
            "",
        ]
    lines += [score_table(scores), "", *(explain(matcher, items) or ["no misses, no false alarms"])]
    return "\n".join(lines)
