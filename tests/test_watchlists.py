"""`monitor watchlists check`: every problem in one run, as `file:line: message`.

Each case is a broken file beside the exact problems it must produce; line
numbers are part of the contract (an analyst jumps to them).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SHIPPED_WATCHLISTS, run_monitor

from monitor.matching.watchlists import check_watchlists, load_watchlists
from monitor.text.tomlmap import SourceMap

GOOD = """\
[watchlist]
id = "w"
title = "W"

[[topics]]
id = "one"
terms = ["DEA immunity"]
"""


def check(tmp_path: Path, source: str, name: str = "w.toml"):
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    report = check_watchlists(path)
    strip = f"{tmp_path}/"
    return (
        [e.replace(strip, "") for e in report.errors],
        [w.replace(strip, "") for w in report.warnings],
    )


ERROR_CASES = {
    "toml syntax error on its line": (
        '[watchlist]\nid = "w"\n\n[[topics]]\nid = "one"\nterms = ["a" "b"]\n',
        ["w.toml:6: TOML syntax error (column 14): a list has a missing comma or closing ]"],
    ),
    "string not closed": (
        '[watchlist]\nid = "w"\ntitle = "W\n',
        [
            "w.toml:3: TOML syntax error (column 11): a string is not closed on this line (missing quote)"
        ],
    ),
    "list never closed reports the line that opened it": (
        GOOD + '\n[[topics]]\nid = "two"\nterms = [\n    "Sheinbaum",\n    "AMLO",\n',
        ["w.toml:11: TOML syntax error: a list, table or string starts here and is never closed"],
    ),
    "key set twice": (
        GOOD + 'terms = ["x"]\n',
        ["w.toml:8: TOML syntax error (column 14): a key is set twice in the same table"],
    ),
    "unknown key in [watchlist]": (
        GOOD.replace('title = "W"', 'titel = "W"'),
        [
            "w.toml:3: [watchlist] unknown key 'titel' (did you mean 'title'?) "
            "(allowed: description, id, title)"
        ],
    ),
    "unknown key in the second topic": (
        GOOD + '\n[[topics]]\nid = "two"\nterms = ["Sheinbaum"]\nfuzy = 80\n',
        [
            "w.toml:12: topic 'two': unknown key 'fuzy' (did you mean 'fuzzy'?) (allowed: "
            "all_of, description, exclude, fuzzy, id, priority, rules, terms, title, window)"
        ],
    ),
    "unknown top-level table": (
        GOOD + '\n[topic]\nid = "x"\n',
        [
            "w.toml:9: unknown key 'topic' (did you mean 'topics'?) "
            "(a watchlist file has a [watchlist] table and [[topics]] tables)"
        ],
    ),
    "duplicate topic id": (
        GOOD
        + '\n[[topics]]\nid = "two"\nterms = ["bb"]\n\n[[topics]]\nid = "one"\nterms = ["cc"]\n',
        ["w.toml:14: duplicate topic id 'one' (first used at line 6)"],
    ),
    "empty term": (
        GOOD.replace('"DEA immunity"', '"DEA immunity", " "'),
        ["w.toml:7: topic 'one': terms ' ' is empty"],
    ),
    "term with no letters": (
        GOOD.replace('"DEA immunity"', '"--"'),
        ["w.toml:7: topic 'one': terms '--' has no letters or digits, so it can never match"],
    ),
    "acronym of one letter": (
        GOOD.replace('"DEA immunity"', '"DEA", "X"'),
        [
            "w.toml:7: topic 'one': terms 'X' is an acronym of one letter: "
            "it would only ever find stray initials"
        ],
    ),
    "fuzzy above 100": (
        GOOD + "fuzzy = 101\n",
        ["w.toml:8: topic 'one': fuzzy must be a whole number from 0 to 100, not 101"],
    ),
    "fuzzy below 0": (
        GOOD + "fuzzy = -1\n",
        ["w.toml:8: topic 'one': fuzzy must be a whole number from 0 to 100, not -1"],
    ),
    "fuzzy as a string": (
        GOOD + 'fuzzy = "90"\n',
        ["w.toml:8: topic 'one': fuzzy must be a whole number from 0 to 100, not '90'"],
    ),
    "window 0": (
        GOOD + 'all_of = [["a1"], ["b1"]]\nwindow = 0\n',
        [
            "w.toml:9: topic 'one': window must be a whole number of words >= 1 or \"sentence\", not 0"
        ],
    ),
    "priority typo": (
        GOOD + 'priority = "hihg"\n',
        [
            "w.toml:8: topic 'one': priority must be \"high\" or \"normal\", not 'hihg' "
            "(did you mean 'high'?)"
        ],
    ),
    "all_of with one group": (
        GOOD + 'all_of = [["DEA", "agentes"]]\n',
        ["w.toml:8: topic 'one': all_of needs at least two groups (one group is just terms)"],
    ),
    "all_of written flat": (
        GOOD + 'all_of = ["DEA", "immunity"]\n',
        [
            "w.toml:8: topic 'one': all_of must be a list of groups, each a list of terms: "
            'all_of = [["DEA", "agentes"], ["immunity", "inmunidad"]]'
        ],
    ),
    "terms as a string": (
        GOOD.replace('terms = ["DEA immunity"]', 'terms = "DEA"'),
        ["w.toml:7: topic 'one': terms must be a list of strings, e.g. terms = [\"DEA\"]"],
    ),
    "topic id missing": (
        GOOD.replace('id = "one"\n', 'title = "One"\n'),
        ["w.toml:5: a topic without an id: id is missing (lower-case letters, digits, - or _)"],
    ),
    "topic with nothing to match": (
        GOOD.replace('terms = ["DEA immunity"]', 'title = "One"'),
        ["w.toml:5: topic 'one': needs terms, all_of or [[topics.rules]], or it can never match"],
    ),
    "watchlist id missing": (
        GOOD.replace('id = "w"\n', ""),
        ["w.toml:1: [watchlist] id is missing (lower-case letters, digits, - or _)"],
    ),
    "watchlist id not valid": (
        GOOD.replace('id = "w"', 'id = "US Mexico"'),
        ["w.toml:2: [watchlist] id 'US Mexico': use lower-case letters, digits, - or _"],
    ),
    "no [watchlist] table": (
        GOOD.replace('[watchlist]\nid = "w"\ntitle = "W"\n', ""),
        ["w.toml:1: missing [watchlist] table with an id and a title"],
    ),
    "[topics] instead of [[topics]]": (
        '[watchlist]\nid = "w"\n\n[topics]\nid = "one"\n',
        ["w.toml:4: write [[topics]] (double brackets, once per topic), not [topics]"],
    ),
    "no topics": (
        '[watchlist]\nid = "w"\n',
        ["w.toml:1: no [[topics]]: a watchlist needs at least one"],
    ),
}


@pytest.mark.parametrize("source, expected", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_broken_file_reports_the_problem_at_its_line(tmp_path, source, expected):
    errors, _ = check(tmp_path, source)
    assert errors == expected


def test_the_good_file_has_no_problems(tmp_path):
    assert check(tmp_path, GOOD) == ([], [])


def test_every_problem_in_one_run_in_line_order(tmp_path):
    source = """\
[watchlist]
id = "w"
colour = "red"

[[topics]]
id = "one"
terms = [
    "DEA",
    "X",
]
all_of = [
    ["Salazar"],
    ["ambassador"],
]
window = 0
fuzzy = 101

[[topics]]
id = "one"
priority = "urgent"
terms = ["ok"]
"""
    errors, _ = check(tmp_path, source)
    assert [e.split(": ", 1)[0] for e in errors] == [
        "w.toml:3",
        "w.toml:7",
        "w.toml:15",  # window after a multi-line all_of: its own line, not the header's
        "w.toml:16",
        "w.toml:19",
        "w.toml:20",
    ]
    assert "duplicate topic id 'one' (first used at line 6)" in errors[4]
    assert "'urgent'" in errors[5]


def test_keys_inside_the_nth_topic_and_after_multiline_values(tmp_path):
    # `["Salazar"],` starts with a bracket and `[[topics]]` sits inside a string:
    # neither is a table header.
    source = """\
[watchlist]
id = "w"
description = '''
Not a header:
[[topics]]
'''

[[topics]]
id = "a"
terms = ["a1"]

[[topics]]
id = "b"
all_of = [
    ["Salazar"],
    ["ambassador", "embajador"],  # a comment with ] and [
]
exclude = ["ex]"]
window = 5
fuzzy = 200
"""
    errors, _ = check(tmp_path, source)
    assert errors == ["w.toml:20: topic 'b': fuzzy must be a whole number from 0 to 100, not 200"]
    spans = SourceMap(source).array_tables("topics")
    assert [s.line for s in spans] == [8, 12]
    assert spans[1].keys == {"id": 13, "all_of": 14, "exclude": 18, "window": 19, "fuzzy": 20}


def test_source_map_reads_quoted_dotted_and_inline_keys():
    source = '[watchlist]\n"id" = "w"\ntitle.x = 1\n[[ topics ]] # c\nterms = [{a = 1}]\n'
    sm = SourceMap(source)
    assert sm.table("watchlist").keys == {"id": 2, "title": 3}
    assert sm.array_tables("topics")[0].line == 4
    assert sm.array_tables("topics")[0].keys == {"terms": 5}


def test_duplicate_watchlist_id_across_files(tmp_path):
    (tmp_path / "a.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.toml").write_text("# copy\n" + GOOD, encoding="utf-8")
    report = check_watchlists(tmp_path)
    assert report.errors == [
        f"{tmp_path}/b.toml:3: watchlist id 'w' is already used by {tmp_path}/a.toml:2"
    ]
    assert [w.id for w in report.watchlists] == ["w"]


def test_problems_in_several_files_all_reported(tmp_path):
    (tmp_path / "a.toml").write_text(GOOD + "fuzzy = 101\n", encoding="utf-8")
    (tmp_path / "b.toml").write_text("[watchlist\n", encoding="utf-8")
    (tmp_path / "c.toml").write_text(GOOD.replace('"w"', '"c"'), encoding="utf-8")
    report = check_watchlists(tmp_path)
    assert [e.split(": ")[0] for e in report.errors] == [
        f"{tmp_path}/a.toml:8",
        f"{tmp_path}/b.toml:1",
    ]
    assert [w.id for w in report.watchlists] == ["c"]  # the good file still loads


WARNING_CASES = {
    "common word": (
        GOOD.replace('"DEA immunity"', '"DEA immunity", "the"'),
        "w.toml:7: topic 'one': terms 'the' is a common word on its own: "
        "expect many false alerts (use all_of or a phrase)",
    ),
    "common Spanish word": (
        GOOD.replace('"DEA immunity"', '"DEA immunity", "Gobierno"'),
        "w.toml:7: topic 'one': terms 'Gobierno' is a common word on its own: "
        "expect many false alerts (use all_of or a phrase)",
    ),
    "short lower-case word": (
        GOOD.replace('"DEA immunity"', '"dea"'),
        "w.toml:7: topic 'one': terms 'dea' is a short lower-case word: "
        "expect false alerts (write acronyms in capitals)",
    ),
    "only common words": (
        GOOD.replace('"DEA immunity"', '"DEA immunity", "de la"'),
        "w.toml:7: topic 'one': terms 'de la' is made of common words only: "
        "expect false alerts (see what `monitor backtest` finds)",
    ),
    "noisy exclude": (
        GOOD + 'exclude = ["en"]\n',
        "w.toml:8: topic 'one': exclude 'en' is a common word: it vetoes most articles",
    ),
    "term listed twice": (
        GOOD.replace('"DEA immunity"', '"DEA immunity", "DEA  Immunity"'),
        "w.toml:7: topic 'one': terms 'DEA  Immunity' is listed twice (as 'DEA immunity')",
    ),
    "term identical to an exclude": (
        GOOD + 'exclude = ["dea immunity"]\n',
        "w.toml:7: topic 'one': terms 'DEA immunity' contains exclude 'dea immunity': "
        "every article it finds is vetoed, so it never matches (except misspelt)",
    ),
    "window without all_of": (
        GOOD + "window = 10\n",
        "w.toml:8: topic 'one': window applies only to all_of, and this topic has none",
    ),
    "very tolerant fuzzy": (
        GOOD + "fuzzy = 80\n",
        "w.toml:8: topic 'one': fuzzy 80 lets words of 5 letters match with a typo: "
        "expect look-alike words to match (87-90 is usual)",
    ),
}


@pytest.mark.parametrize("source, expected", WARNING_CASES.values(), ids=WARNING_CASES.keys())
def test_warnings_do_not_make_the_file_invalid(tmp_path, source, expected):
    errors, warnings = check(tmp_path, source)
    assert errors == []
    assert warnings == [expected]


def test_acronym_exclude_does_not_veto_a_lower_case_term(tmp_path):
    # exclude "DEA" needs capitals; the term "dea agents" also finds "Dea agents"
    _, warnings = check(tmp_path, GOOD + 'exclude = ["DEA"]\n')
    assert len(warnings) == 1 and "contains exclude 'DEA'" in warnings[0]
    _, warnings = check(
        tmp_path, GOOD.replace('"DEA immunity"', '"dea agents"') + 'exclude = ["DEA"]\n'
    )
    assert warnings == []


def test_accent_and_plural_variants_are_not_reported_as_repeats(tmp_path):
    source = GOOD.replace('"DEA immunity"', '"cártel", "cartel", "operación", "operaciones"')
    assert check(tmp_path, source) == ([], [])


def test_shipped_watchlists_are_clean():
    report = check_watchlists(SHIPPED_WATCHLISTS)
    assert report.errors == [] and report.warnings == []
    assert len(report.watchlists) == 2


def test_load_raises_with_every_problem(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text(GOOD + "fuzzy = 101\nwindow = 0\n", encoding="utf-8")
    with pytest.raises(Exception) as info:
        load_watchlists(path)
    assert info.value.exit_code == 2
    assert info.value.problems == [
        f"{path}:8: topic 'one': fuzzy must be a whole number from 0 to 100, not 101",
        f"{path}:9: topic 'one': window must be a whole number of words >= 1 or \"sentence\", not 0",
    ]


# -- the command line ----------------------------------------------------------------


def test_cli_check_exit_0_for_a_good_file(tmp_path):
    (tmp_path / "w.toml").write_text(GOOD, encoding="utf-8")
    result = run_monitor("watchlists", "check", "w.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok: 1 watchlist, 1 topic in w.toml\n"
    assert result.stderr == ""


def test_cli_check_exit_0_with_warnings_on_stderr(tmp_path):
    (tmp_path / "w.toml").write_text(GOOD + 'exclude = ["en"]\n', encoding="utf-8")
    result = run_monitor("watchlists", "check", "w.toml", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == "ok: 1 watchlist, 1 topic in w.toml, 1 warning\n"
    assert result.stderr.startswith("w.toml:8: warning: topic 'one': exclude 'en'")


def test_cli_check_exit_2_with_every_error(tmp_path):
    (tmp_path / "w.toml").write_text(GOOD + "fuzzy = 101\nwindow = 0\n", encoding="utf-8")
    (tmp_path / "v.toml").write_text('[watchlist]\nid = "v"\n[[topics]]\nterms = ["x"\n')
    result = run_monitor("watchlists", "check", ".", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines[:3]] == ["v.toml:4", "w.toml:8", "w.toml:9"]
    assert lines[3] == "3 errors in ."
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cli_check_missing_path_exit_2(tmp_path):
    result = run_monitor("watchlists", "check", "nowhere", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("nowhere: no such file or folder")


def test_a_file_that_is_not_utf8_is_reported_not_raised(tmp_path):
    (tmp_path / "w.toml").write_bytes(b'[watchlist]\nid = "caf\xe9"\n')
    report = check_watchlists(tmp_path / "w.toml")
    assert len(report.errors) == 1
    # the line and column of the bad byte, not line 1 (issue 16, item 10)
    assert report.errors == [
        f"{tmp_path}/w.toml:2: not UTF-8: byte 0xe9 at column 10 (save the file as UTF-8)"
    ]


def test_an_unclosed_list_is_reported_at_the_line_that_opens_it(tmp_path):
    source = GOOD + '[[topics]]\nid = "b"\ntitle = "B"\nterms = ["x1",\n  "x2"\n\n'
    source += '[[topics]]\nid = "c"\ntitle = "C"\nterms = ["y1"]\n'
    (tmp_path / "w.toml").write_text(source, encoding="utf-8")
    opening = source.splitlines().index('terms = ["x1",') + 1
    report = check_watchlists(tmp_path / "w.toml")
    assert report.errors == [
        f"{tmp_path}/w.toml:{opening}: TOML syntax error: a list has a missing comma or closing ]"
    ]


def test_a_topic_with_an_invalid_id_is_named_by_it(tmp_path):
    (tmp_path / "w.toml").write_text(
        GOOD + '[[topics]]\nid = "Bad Id"\ntitle = "B"\nterms = ["x1"]\n', encoding="utf-8"
    )
    [error] = check_watchlists(tmp_path / "w.toml").errors
    assert ": topic 'Bad Id': id 'Bad Id': use lower-case letters" in error


def test_a_byte_order_mark_is_accepted(tmp_path):
    (tmp_path / "w.toml").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    report = check_watchlists(tmp_path / "w.toml")
    assert report.errors == [] and [w.id for w in report.watchlists] == ["w"]
