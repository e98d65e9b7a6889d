"""Per-topic precision and recall of the shipped watchlists on a labeled set.

    python benchmarks/quality.py [LABELED.jsonl ...] [--watchlists PATH]

Each labeled line is `{"id", "title", "summary", "labels": ["watchlist/topic", ...]}`
(the project's first sets) or `{"id", "lang", "title", "summary", "expect": [topic, ...]}`
(sets written to ../shared/eval/LABELING.md: bare topic ids, and only the guide's
topics are scored, so a shipped topic the guide does not cover is ignored).
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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
INDEPENDENT = ROOT.parent / "shared" / "eval" / "independent-163.jsonl"
DEFAULT_FILES = [
    DATA / "labeled_articles.jsonl",
    DATA / "heldout_articles.jsonl",
    DATA / "blind_articles.jsonl",
    DATA / "blind450_dev.jsonl",
    DATA / "blind450_holdout.jsonl",
    *([INDEPENDENT] if INDEPENDENT.is_file() else []),
]
# The topics of ../shared/eval/LABELING.md, which "expect" labels use.
GUIDE_TOPICS = frozenset(
    [
        "unilateral-operations",
        "lopez-obrador",
        "bicentennial-framework",
        "dea-immunity",
        "claudia-sheinbaum",
        "mayo-zambada",
        "merida-initiative",
        "ken-salazar",
        "salvador-cienfuegos",
    ]
)


@dataclass(slots=True)
class TopicScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_labeled(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def truth_of(item: dict) -> set[str]:
    return set(item["expect"]) if "expect" in item else set(item["labels"])


def as_labeled(items: list[dict], predicted: dict[str, set[str]]) -> dict[str, set[str]]:
    """Predictions in the items' own vocabulary: "watchlist/topic", or for `expect` sets
    the bare topic id, limited to the guide's topics."""
    if not items or "expect" not in items[0]:
        return predicted
    return {
        key: {t.split("/", 1)[1] for t in got if t.split("/", 1)[1] in GUIDE_TOPICS}
        for key, got in predicted.items()
    }


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


def evaluate(items: list[dict], predicted: dict[str, set[str]]) -> dict[str, TopicScore]:
    """Scores per topic; topics come from both labels and predictions."""
    scores: dict[str, TopicScore] = {}
    for item in items:
        truth = truth_of(item)
        got = predicted.get(item["id"], set())
        for topic in truth | got:
            score = scores.setdefault(topic, TopicScore())
            if topic in truth and topic in got:
                score.tp += 1
            elif topic in got:
                score.fp += 1
                score.false_positives.append(item["id"])
            else:
                score.fn += 1
                score.false_negatives.append(item["id"])
    return dict(sorted(scores.items()))


def overall(scores: dict[str, TopicScore]) -> TopicScore:
    total = TopicScore()
    for score in scores.values():
        total.tp += score.tp
        total.fp += score.fp
        total.fn += score.fn
    return total


def markdown_table(scores: dict[str, TopicScore]) -> str:
    rows = [
        "| topic | TP | FP | FN | precision | recall |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for topic, s in [*scores.items(), ("**overall**", overall(scores))]:
        rows.append(f"| {topic} | {s.tp} | {s.fp} | {s.fn} | {s.precision:.2f} | {s.recall:.2f} |")
    return "\n".join(rows)


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
        scores = evaluate(items, as_labeled(items, run_match(items, args.watchlists)))
        print(f"### {path.name} ({len(items)} articles)\n")
        print(markdown_table(scores))
        print(f"\nMisclassified:\n{misclassified(scores)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
