"""`monitor watchlists explain` and `monitor backtest --labeled`: every miss with the closest
rule and why it did not fire, every false alarm with what fired."""

from __future__ import annotations

import json

from conftest import run_monitor

WATCHLIST = """\
[watchlist]
id = "w"
title = "W"

[[topics]]
id = "salazar"
title = "Ken Salazar"
terms = ["Ken Salazar"]
exclude = ["Kenny Salazar"]

[[topics.rules]]
all_of = [["Salazar"], ["ambassador", "embajador"]]
window = 4

[[topics.rules]]
all_of = [["Salazar"], ["Bicentennial"], ["Washington"]]
window = "sentence"
exclude = ["Colombia"]
"""

ITEMS = [
    {
        "id": "far",
        "title": "Salazar spoke for an hour before the ambassador left",
        "expect": ["salazar"],
    },
    {"id": "gap", "title": "Salazar praises the Bicentennial pact", "expect": ["salazar"]},
    {"id": "veto", "title": "Kenny Salazar, ambassador of the game", "expect": ["salazar"]},
    {
        "id": "split",
        "title": "Salazar in Washington.",
        "summary": "He spoke. The Bicentennial works.",
        "expect": ["salazar"],
    },
    {
        "id": "local",
        "title": "Colombia's Salazar backs Bicentennial plan in Washington",
        "expect": ["salazar"],
    },
    {"id": "alarm", "title": "Ken Salazar opens a bakery", "expect": []},
    {"id": "ok", "title": "Ambassador Salazar speaks", "expect": ["salazar"]},
]


def test_explain_says_why_each_article_was_missed_or_hit(tmp_path):
    (tmp_path / "w.toml").write_text(WATCHLIST, encoding="utf-8")
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    done = run_monitor(
        "watchlists", "explain", str(labeled), str(tmp_path / "w.toml"), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    reasons = dict(
        zip(
            [
                line.split()[1] if line.startswith("MISSED") else line.split()[2]
                for line in out.splitlines()
                if line.startswith(("MISSED", "FALSE ALARM"))
            ],
            [line.strip() for line in out.splitlines() if line.startswith("    ")],
            strict=True,
        )
    )
    assert reasons["far"] == "rule 1 (line 11): its groups are 7 words apart, the window is 4"
    assert reasons["gap"] == (
        "rule 2 (line 15): no term of group 3 (Washington) (found Salazar + Bicentennial)"
    )
    assert reasons["veto"] == "vetoed by the topic's exclude 'Kenny Salazar'"
    assert (
        reasons["split"] == "rule 2 (line 15): its groups are all there, but never in one sentence"
    )
    assert reasons["local"] == "rule 2 (line 15) vetoed by its exclude 'Colombia'"
    assert reasons["alarm"].startswith("term 'Ken Salazar': «Ken Salazar opens a bakery»")
    assert "ok" not in reasons
    assert "| salazar | 1 | 1 | 5 | 0.50 | 0.17 |" in out


def test_backtest_on_a_labeled_file_compares_the_current_watchlists(tmp_path):
    current = tmp_path / "current"
    current.mkdir()
    (current / "w.toml").write_text(WATCHLIST, encoding="utf-8")
    edited = tmp_path / "edited.toml"
    edited.write_text(WATCHLIST.replace("window = 4", "window = 10"), encoding="utf-8")
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    done = run_monitor(
        "backtest", str(edited), "--against", str(current), "--labeled", str(labeled), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "current watchlists: precision 0.500, recall 0.167" in done.stdout
    assert "this version:       precision 0.667, recall 0.333" in done.stdout
    assert "MISSED far" not in done.stdout


def test_a_bad_labeled_line_is_one_line_with_file_and_line(tmp_path):
    (tmp_path / "w.toml").write_text(WATCHLIST, encoding="utf-8")
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text('{"id": "a", "title": "x", "expect": []}\n{"title": "no id"}\n')
    done = run_monitor(
        "watchlists", "explain", str(labeled), str(tmp_path / "w.toml"), cwd=tmp_path
    )
    assert done.returncode == 2
    assert f"{labeled}:2: not a labeled article" in done.stderr and "Traceback" not in done.stderr
