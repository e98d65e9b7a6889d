"""[[topics.rules]]: an OR of all_of rules, each with its own window and excludes.

Before, a topic had one all_of with one window, and the watchlists repeated phrases
across groups to fake "A near B, or else C near D".
"""

from __future__ import annotations

import pytest

from monitor.core.models import Article
from monitor.matching.matcher import Matcher
from monitor.matching.watchlists import check_watchlists

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
all_of = [["Salazar"], ["ambassador", "embajador", "envoy"]]
window = 6

[[topics.rules]]
all_of = [["Salazar"], ["Bicentennial", "Bicentenario"]]
window = "sentence"
exclude = ["Colombia"]

[[topics]]
id = "unilateral"
title = "Unilateral operations"
[[topics.rules]]
all_of = [["strike", "ataque", "drones"], ["Mexico", "México", "suelo mexicano"], ["US", "EU", "Trump"]]
window = "sentence"
"""


@pytest.fixture(scope="module")
def matcher(tmp_path_factory) -> Matcher:
    folder = tmp_path_factory.mktemp("w")
    (folder / "w.toml").write_text(WATCHLIST, encoding="utf-8")
    report = check_watchlists(folder)
    assert report.ok, report.errors
    return Matcher(report.watchlists)


def topics(matcher: Matcher, title: str, summary: str = "") -> dict[str, str]:
    article = Article(id="a", feed_url="f", url="u", title=title, summary=summary)
    return {hit.topic: hit.term for hit in matcher.match(article)}


@pytest.mark.parametrize(
    "title, summary, expected",
    [
        ("Ambassador Ken Salazar speaks", "", {"salazar": "Ken Salazar"}),
        ("Salazar, the US ambassador, speaks", "", {"salazar": "Salazar + ambassador"}),
        # rule 1's window is 6 words: too far apart
        ("Salazar spoke for an hour at the dinner before the ambassador", "", {}),
        # rule 2: the same sentence, however far apart
        (
            "Salazar said on Tuesday in a long speech that the Bicentennial deal works",
            "",
            {"salazar": "Salazar + Bicentennial"},
        ),
        # ... but not across sentences
        ("Salazar spoke. Then he left.", "", {}),
        ("Salazar spoke.", "He left. The Bicentennial deal works.", {}),
        # the headline and the lede (the summary's first sentence) are one
        ("Salazar spoke.", "The Bicentennial deal works.", {"salazar": "Salazar + Bicentennial"}),
        # rule 2's exclude vetoes rule 2 only
        ("Colombia's Salazar praises the Bicentennial accord", "", {}),
        (
            "Colombia: ambassador Salazar praises the Bicentennial accord",
            "",
            {"salazar": "Salazar + ambassador"},
        ),
        # the topic's exclude vetoes every rule
        ("Kenny Salazar, ambassador of baseball", "", {}),
        # three groups in one sentence, in either language
        ("Trump weighs drones over Mexico", "", {"unilateral": "drones + Mexico + Trump"}),
        (
            "EU evalúa un ataque en suelo mexicano",
            "",
            {"unilateral": "ataque + suelo mexicano + EU"},
        ),
        ("Trump weighs drones.", "Congress waits. Mexico objects.", {}),
        ("Gen. Trump plans a strike on Mexico", "", {"unilateral": "strike + Mexico + Trump"}),
    ],
)
def test_rules_each_with_its_window_and_excludes(matcher, title, summary, expected):
    assert topics(matcher, title, summary) == expected


def test_rules_are_validated_at_their_own_line(tmp_path):
    source = (
        WATCHLIST
        + """
[[topics.rules]]
all_of = [["alpha"], ["beta"]]
windw = 3

[[topics.rules]]
window = "paragraph"
all_of = []
"""
    )
    (tmp_path / "w.toml").write_text(source, encoding="utf-8")
    report = check_watchlists(tmp_path)
    line = {text: n for n, text in enumerate(source.splitlines(), start=1)}
    found = sorted((int(e.split(":")[1]), e.split(": ", 1)[1]) for e in report.errors)
    assert found == [
        (
            line["windw = 3"],
            "topic 'unilateral' rule 2: unknown key 'windw' (did you mean 'window'?) "
            "(a rule has: all_of, exclude, window)",
        ),
        (
            line['window = "paragraph"'],
            "topic 'unilateral' rule 3: window must be a whole number of words >= 1 or "
            "\"sentence\", not 'paragraph'",
        ),
        (
            line["all_of = []"],
            "topic 'unilateral' rule 3: a rule needs all_of: one or more groups of terms",
        ),
    ]


def test_a_match_in_the_title_takes_its_snippet_from_the_summary(matcher):
    """The alert shows the title already: repeating it as the snippet said nothing new."""

    def hit(title, summary):
        article = Article(id="a", feed_url="f", url="u", title=title, summary=summary)
        [found] = matcher.match(article)
        return found

    opening = hit("Ambassador Ken Salazar speaks", "He praised the new accord in Monterrey.")
    assert (opening.field, opening.snippet) == ("title", "He praised the new accord in Monterrey.")
    again = hit("Ken Salazar speaks", "Long before the end " * 20 + "Ken Salazar thanked them.")
    assert again.snippet.endswith("Ken Salazar thanked them.")
    alone = hit("Ken Salazar speaks", "")
    assert alone.snippet == "Ken Salazar speaks"
