"""Per-topic precision and recall of the shipped watchlists on a labeled set.

    python benchmarks/quality.py [LABELED.jsonl ...] [--watchlists PATH]

Each labeled line is `{"id", "title", "summary", "labels": ["watchlist/topic", ...]}`
(the project's first sets) or `{"id", "lang", "title", "summary", "expect": [topic, ...]}`
(sets written to ../shared/eval/LABELING.md: bare topic ids, and only the topics the
file labels somewhere are scored, so a shipped topic it does not cover is ignored).
The articles go through the real `monitor match` command (the same code path
the worker uses), and the script prints one markdown table per file: for each
topic the true positives, false positives, false negatives, precision and
recall, then the overall (micro-averaged) row and the misclassified ids.
tests/test_matching_quality.py imports it so the test and the README agree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere

from monitor.matching.explain import (  # noqa: E402 - the one scoring, shared with the CLI
    TopicScore,
    evaluate,
    overall,
    read_labeled,
    score_table,
)

DATA = ROOT / "tests" / "data"
INDEPENDENT = ROOT.parent / "shared" / "eval" / "independent-163.jsonl"
DEFAULT_FILES = [
    DATA / "labeled_articles.jsonl",
    DATA / "heldout_articles.jsonl",
    DATA / "blind_articles.jsonl",
    DATA / "blind450_dev.jsonl",
    DATA / "blind450_holdout.jsonl",
    *(DATA / f"blind_{name}_dev.jsonl" for name in "fghi"),
    *([INDEPENDENT] if INDEPENDENT.is_file() else []),
]
__all__ = ["TopicScore", "evaluate", "overall", "markdown_table", "load_labeled", "run_match"]
markdown_table = score_table


def load_labeled(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def score(items: list[dict], predicted: dict[str, set[str]]) -> dict[str, TopicScore]:
    """Per-topic scores with monitor.matching.explain's rules (the `expect` format scores only the
    topics the file labels somewhere)."""
    labeled = read_labeled(map(json.dumps, items))
    scored = {t for item in labeled if item.bare for t in item.truth}
    got = {
        item.article.id: (
            {t.split("/", 1)[1] for t in predicted.get(item.article.id, ())} & scored
            if item.bare
            else predicted.get(item.article.id, set())
        )
        for item in labeled
    }
    return evaluate(labeled, got)


def run_match(items: list[dict], watchlists: Path) -> dict[str, set[str]]:
    """`monitor match` over the items: article id -> {"watchlist/topic", ...}."""
    lines = "".join(
        json.dumps({"id": i["id"], "title": i["title"], "summary": i.get("summary", "")}) + "\n"
        for i in items
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "match", "--watchlists", str(watchlists), "--input", "-"],
        input=lines,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"monitor match exited {done.returncode}: {done.stderr.strip()}")
    predicted: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        row = json.loads(line)
        predicted[row["id"]] = {f"{h['watchlist']}/{h['topic']}" for h in row["hits"]}
    return predicted


def misclassified(scores: dict[str, TopicScore]) -> str:
    lines = []
    for topic, s in scores.items():
        if s.false_positives:
            lines.append(f"- {topic} false positives: {', '.join(s.false_positives)}")
        if s.false_negatives:
            lines.append(f"- {topic} missed: {', '.join(s.false_negatives)}")
    return "\n".join(lines) or "- none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    parser.add_argument("--watchlists", type=Path, default=ROOT / "watchlists")
    args = parser.parse_args(argv)
    for path in args.files:
        items = load_labeled(path)
        scores = score(items, run_match(items, args.watchlists))
        print(f"### {path.name} ({len(items)} articles)\n")
        print(score_table(scores))
        print(f"\nMisclassified:\n{misclassified(scores)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
