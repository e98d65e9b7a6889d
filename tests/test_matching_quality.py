"""Precision and recall of the shipped watchlists, through the real `monitor match`.

Two labeled sets in tests/data/:
- labeled_articles.jsonl: the set the shipped watchlists were tuned on. Held to
  the issue's bar: overall precision and recall >= 0.95, no topic below 0.85.
- heldout_articles.jsonl: written without reading the watchlists, so it shows
  what tuning did not see. Its bar is looser (HELDOUT_* below) and is what the
  watchlists truly meet on it; improve watchlists or engine, never the labels.
  (Its misses were since fixed, so it is no longer blind.)
- blind_articles.jsonl: 70 items written later, again without reading the
  watchlists, and never tuned on: 0.98 precision / 0.98 recall at its first
  measurement. Keep it blind: a miss here is reported, not fixed by editing
  the watchlists against this file. Held to the held-out bar.

On failure the message carries the per-topic table and the misclassified ids.
The scoring lives in benchmarks/quality.py so the README table and this test agree.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"

TUNED_OVERALL = 0.95
TUNED_TOPIC = 0.85
HELDOUT_OVERALL_PRECISION = 0.90
HELDOUT_OVERALL_RECALL = 0.90
HELDOUT_TOPIC = 0.75


def _load_quality():
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


quality = _load_quality()


def _scores(name: str):
    items = quality.load_labeled(DATA / name)
    return items, quality.evaluate(items, quality.run_match(items, ROOT / "watchlists"))


def _report(scores) -> str:
    return f"\n{quality.markdown_table(scores)}\n\n{quality.misclassified(scores)}"


def _assert_bar(scores, overall: tuple[float, float], per_topic: float) -> None:
    total = quality.overall(scores)
    problems = []
    if total.precision < overall[0]:
        problems.append(f"overall precision {total.precision:.3f} < {overall[0]}")
    if total.recall < overall[1]:
        problems.append(f"overall recall {total.recall:.3f} < {overall[1]}")
    for topic, score in scores.items():
        if score.precision < per_topic or score.recall < per_topic:
            problems.append(f"{topic}: P {score.precision:.2f} R {score.recall:.2f} < {per_topic}")
    assert not problems, "; ".join(problems) + _report(scores)


@pytest.mark.parametrize(
    "name", ["labeled_articles.jsonl", "heldout_articles.jsonl", "blind_articles.jsonl"]
)
def test_labeled_sets_are_well_formed(name: str) -> None:
    items = quality.load_labeled(DATA / name)
    topics = {
        f"{w}/{t}"
        for w, ts in {
            "us-mexico-security": (
                "dea-immunity",
                "unilateral-operations",
                "bicentennial-framework",
                "merida-initiative",
                "fentanyl-trafficking",
            ),
            "officials": (
                "claudia-sheinbaum",
                "lopez-obrador",
                "ken-salazar",
                "salvador-cienfuegos",
                "mayo-zambada",
            ),
        }.items()
        for t in ts
    }
    assert len({i["id"] for i in items}) == len(items), "duplicate ids"
    for item in items:
        assert item["lang"] in ("en", "es") and item["title"], item["id"]
        assert set(item["labels"]) <= topics, item["id"]
    negatives = sum(1 for i in items if not i["labels"])
    assert 0.3 <= negatives / len(items) <= 0.6


def test_tuned_set_meets_the_issue_bar() -> None:
    items, scores = _scores("labeled_articles.jsonl")
    assert len(items) >= 150
    _assert_bar(scores, (TUNED_OVERALL, TUNED_OVERALL), TUNED_TOPIC)


def test_heldout_set_meets_its_looser_bar() -> None:
    items, scores = _scores("heldout_articles.jsonl")
    assert len(items) >= 80
    _assert_bar(scores, (HELDOUT_OVERALL_PRECISION, HELDOUT_OVERALL_RECALL), HELDOUT_TOPIC)


def test_blind_set_meets_the_heldout_bar() -> None:
    items, scores = _scores("blind_articles.jsonl")
    assert len(items) >= 60
    _assert_bar(scores, (HELDOUT_OVERALL_PRECISION, HELDOUT_OVERALL_RECALL), HELDOUT_TOPIC)
