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
    return items, quality.score(items, quality.run_match(items, ROOT / "watchlists"))


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


# Sets written to ../shared/eval/LABELING.md ("expect": bare topic ids) by writers who saw
# only that guide and the seed documents, never the watchlists (issue 14). The 450 items
# were split once, by a hash of the id, into development and holdout halves: the
# watchlists are tuned on the development half only; the holdout is reported, never
# tuned on, and its bar is what the watchlists measured on it when it was first scored.
GUIDE_OVERALL_PRECISION = 0.97
GUIDE_OVERALL_RECALL = 0.95
GUIDE_TOPIC = 0.90
HOLDOUT_OVERALL_RECALL = 0.95
HOLDOUT_TOPIC = 0.90
# later blind sets, each measured once before any tuning on it (first scores: F 1.00 /
# 0.91, G 1.00 / 0.98, H 0.99 / 0.95, I 1.00 / 0.86), then added to development
LATER_DEV_SETS = [
    "blind_f_dev.jsonl",
    "blind_g_dev.jsonl",
    "blind_h_dev.jsonl",
    "blind_i_dev.jsonl",
]
INDEPENDENT = ROOT.parent / "shared" / "eval" / "independent-163.jsonl"


def _guide_scores(path: Path):
    items = quality.load_labeled(path)
    return items, quality.score(items, quality.run_match(items, ROOT / "watchlists"))


def test_guide_sets_are_well_formed_and_bilingual() -> None:
    dev, holdout = (quality.load_labeled(DATA / f"blind450_{n}.jsonl") for n in ("dev", "holdout"))
    assert len(dev) + len(holdout) >= 400
    assert not {i["id"] for i in dev} & {i["id"] for i in holdout}
    for items in (dev, holdout):
        spanish = sum(1 for i in items if i["lang"] == "es") / len(items)
        assert 0.4 <= spanish <= 0.6
        assert all(isinstance(i["expect"], list) for i in items)


def test_development_half_meets_the_issue_target() -> None:
    _, scores = _guide_scores(DATA / "blind450_dev.jsonl")
    _assert_bar(scores, (GUIDE_OVERALL_PRECISION, GUIDE_OVERALL_RECALL), GUIDE_TOPIC)


@pytest.mark.parametrize("name", LATER_DEV_SETS)
def test_later_development_sets_meet_the_issue_target(name: str) -> None:
    _, scores = _guide_scores(DATA / name)
    _assert_bar(scores, (GUIDE_OVERALL_PRECISION, GUIDE_OVERALL_RECALL), 0.80)


def test_holdout_half_meets_its_first_measurement() -> None:
    _, scores = _guide_scores(DATA / "blind450_holdout.jsonl")
    _assert_bar(scores, (GUIDE_OVERALL_PRECISION, HOLDOUT_OVERALL_RECALL), HOLDOUT_TOPIC)


@pytest.mark.skipif(not INDEPENDENT.is_file(), reason="../shared/eval is not checked out here")
def test_independent_set_meets_the_issue_target() -> None:
    _, scores = _guide_scores(INDEPENDENT)
    _assert_bar(scores, (GUIDE_OVERALL_PRECISION, GUIDE_OVERALL_RECALL), GUIDE_TOPIC)
