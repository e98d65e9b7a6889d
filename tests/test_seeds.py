"""`monitor seeds suggest`: candidate terms from documents, as a TOML draft."""

from __future__ import annotations

import tomllib

import pytest
from conftest import ROOT, SHIPPED_WATCHLISTS, run_monitor

from monitor.core.errors import UserError
from monitor.matching.watchlists import load_watchlists
from monitor.seeds.candidates import (
    ACRONYM,
    NAME,
    PHRASE,
    QUOTED,
    Document,
    find_candidates,
    read_documents,
)
from monitor.seeds.draft import covered_by, render_draft
from monitor.seeds.sentences import is_heading, split_sentences

SEEDS = ROOT / "seeds"

ENGLISH = """\
US–Mexico security: a new phase

President Claudia Sheinbaum rejected the plan. Recent talks on security cooperation stalled, and Sheinbaum’s office said so.
The Drug Enforcement Administration (DEA) lost the immunity of its agents under the Ley de Seguridad Nacional. Furthermore, the DEA said security cooperation would continue.
Ismael “El Mayo” Zambada was flown to Texas. Officials called it the “goalkeeper” project. Gen. Salvador Cienfuegos was cleared.
In the end, the operations of the cartels continued, and the “operations” of the state went on; operations, operations everywhere.
"""
SPANISH = """\
El Cártel de Jalisco Nueva Generación (CJNG) y el Cártel de Sinaloa dominan la frontera. La Ley de Seguridad Nacional limita a la DEA.
El presidente Andrés Manuel López Obrador (AMLO) defendió la reforma. AMLO dijo que la cooperación en seguridad sigue.
In the end, security cooperation is what both sides want, and the security cooperation of the past is over.
"""
DOCS = [Document("en.txt", ENGLISH), Document("es.txt", SPANISH)]


@pytest.fixture(scope="module")
def found():
    return {(c.kind, c.term): c for c in find_candidates(DOCS)}


def test_expected_candidates_of_each_kind(found):
    assert set(found) == {
        (NAME, "Sheinbaum"),
        (NAME, "Ley de Seguridad Nacional"),
        (ACRONYM, "DEA"),
        (ACRONYM, "AMLO"),
        (ACRONYM, "CJNG"),
        (QUOTED, "El Mayo"),
        (QUOTED, "goalkeeper"),
        (PHRASE, "security cooperation"),
    }


def test_counts_documents_and_first_sentence(found):
    dea = found[ACRONYM, "DEA"]
    assert (dea.count, dea.documents, dea.source) == (3, 2, "en.txt")
    assert dea.sentence.startswith("The Drug Enforcement Administration (DEA) lost the immunity")
    phrase = found[PHRASE, "security cooperation"]
    assert (phrase.count, phrase.documents) == (4, 2)
    # "Sheinbaum’s" counts: possessives fold the way the matcher folds them
    assert found[NAME, "Sheinbaum"].count == 2
    law = found[NAME, "Ley de Seguridad Nacional"]
    assert (law.count, law.documents) == (2, 2)


def test_acronyms_come_with_what_they_stand_for(found):
    assert found[ACRONYM, "DEA"].expansion == "Drug Enforcement Administration"
    assert found[ACRONYM, "AMLO"].expansion == "Andrés Manuel López Obrador"
    assert found[ACRONYM, "CJNG"].expansion == "Cártel de Jalisco Nueva Generación"  # "de" skipped
    assert found[ACRONYM, "AMLO"].expansion_count == 1


def test_junk_is_left_out(found):
    terms = {term for _, term in found}
    # stopword-edged n-grams, sentence openers, titles, one-off names, quoted emphasis
    for junk in (
        "of the",
        "the end",
        "In the end",
        "the security",
        "de la",
        "Furthermore",
        "Recent",
        "President Claudia Sheinbaum",
        "Gen",
        "Texas",
        "operations",
    ):
        assert junk not in terms
    assert "US–Mexico security" not in terms  # a heading is not mined


def test_offices_keep_their_title_words_and_people_lose_theirs():
    docs = [
        Document(
            "a.txt",
            "Según la Secretaría de la Defensa Nacional, el general Cienfuegos fue liberado. "
            "El embajador Ken Salazar habló.",
        ),
        Document(
            "b.txt",
            "La Secretaría de la Defensa Nacional y el General Cienfuegos; "
            "then Ambassador Ken Salazar spoke.",
        ),
    ]
    terms = {c.term for c in find_candidates(docs)}
    assert {"Secretaría de la Defensa Nacional", "Cienfuegos", "Ken Salazar"} <= terms
    assert not {"Defensa Nacional", "General Cienfuegos", "Ambassador", "Según"} & terms


def test_min_count_lowers_the_bar(found):
    more = {(c.kind, c.term) for c in find_candidates(DOCS, min_count=1)}
    assert (NAME, "Claudia Sheinbaum") in more and (NAME, "Salvador Cienfuegos") in more
    assert (NAME, "Claudia Sheinbaum") not in found


@pytest.mark.parametrize(
    "line, spans",
    [
        (
            "U.S. Ambassador Ken Salazar spoke. Gen. Cienfuegos did not.",
            ["U.S. Ambassador Ken Salazar spoke.", "Gen. Cienfuegos did not."],
        ),
        ("“No,” she said. Then she left!", ["“No,” she said.", "Then she left!"]),
    ],
)
def test_sentences_split_after_stops_but_not_after_abbreviations(line, spans):
    assert [line[a:b] for a, b in split_sentences(line)] == spans


@pytest.mark.parametrize(
    "line, heading",
    [
        ("By Manolo Pasero", True),
        ("Enhanced Security Coordination and Intelligence Sharing:", True),
        ("A Balanced Approach: Partnership or Intervention?", True),
        (
            "El Cártel de Jalisco Nueva Generación (CJNG) y el Cártel de Sinaloa dominan la frontera.",
            False,
        ),
        ("In 2019, AMLO declared an end to the “war on drugs” in Mexico.", False),
    ],
)
def test_headings_are_told_from_running_text(line, heading):
    assert is_heading(line) is heading


# -- the real seeds ---------------------------------------------------------------------
def test_real_seeds_yield_the_watchlist_vocabulary():
    candidates = find_candidates(read_documents(SEEDS))
    terms = {c.term for c in candidates}
    for expected in (
        "Bicentennial Framework",
        "Mérida Initiative",
        "DEA",
        "AMLO",
        "El Mayo",
        "goalkeeper",
        "López Obrador",
        "Sheinbaum",
        "security cooperation",
    ):
        assert expected in terms
    dea = next(c for c in candidates if c.term == "DEA")
    assert dea.expansion == "Drug Enforcement Administration"
    assert not {"Furthermore", "Therefore", "of the", "Rice University’s"} & terms


def test_draft_is_valid_toml_and_marks_covered_and_common_terms():
    documents = read_documents(SEEDS)
    candidates = find_candidates(documents)
    terms = [c.term for c in candidates] + [c.expansion for c in candidates if c.expansion]
    covered = covered_by(terms, load_watchlists(SHIPPED_WATCHLISTS))
    assert covered["AMLO"] == ["officials/lopez-obrador"]
    assert "DEA" not in covered  # only in an all_of group: the word alone matches nothing
    draft = render_draft(candidates, "seeds", len(documents), covered, min_count=2, limit=0)
    data = tomllib.loads(draft)
    assert [t["id"] for t in data["topics"]] == ["names", "acronyms", "quoted", "phrases"]
    active = {term for topic in data["topics"] for term in topic["terms"]}
    assert "DEA" in active and "goalkeeper" in active
    assert "AMLO" not in active and "Mexico" not in active and "El Mayo" not in active
    assert '    # "AMLO",  # matched by officials/lopez-obrador; seen 16× in 2 files' in draft
    assert '    # "US",  # common words alone flood a topic (use it in all_of); seen' in draft
    assert (
        '    "DEA",  # seen 3× in 2 files, first 003_37a0a3f82b6e31c6.txt: '
        '"President Sheinbaum’s firm “no” to DEA-led bombing raids' in draft
    )
    assert '    "Drug Enforcement Administration",  # spells out DEA, seen 1×' in draft


def test_draft_limit_and_empty_result():
    candidates = find_candidates(DOCS)
    draft = render_draft(candidates, "docs", 2, None, min_count=2, limit=1)
    assert "    # … 2 more (--limit 0 lists all)" in draft  # 3 acronyms, 1 shown
    assert "no watchlists were given" in draft
    empty = render_draft([], "docs", 1, None, min_count=5)
    assert "# No candidates seen 5× or more." in empty
    assert tomllib.loads(empty) == {}


def test_read_documents_errors(tmp_path):
    with pytest.raises(UserError, match="no such file or folder"):
        read_documents(tmp_path / "nowhere")
    with pytest.raises(UserError, match=r"no \.txt or \.md documents here"):
        read_documents(tmp_path)


# -- the command line ----------------------------------------------------------------


def test_cli_suggest_prints_a_toml_draft(tmp_path):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "en.txt").write_text(ENGLISH, encoding="utf-8")
    (tmp_path / "seeds" / "es.txt").write_text(SPANISH, encoding="utf-8")
    result = run_monitor("seeds", "suggest", cwd=tmp_path)  # default folder: ./seeds
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(result.stdout)
    assert "DEA" in data["topics"][1]["terms"]
    assert "no watchlists were given" in result.stdout  # no ./watchlists here
    with_wl = run_monitor(
        "seeds", "suggest", "seeds", "--watchlists", str(SHIPPED_WATCHLISTS), cwd=tmp_path
    )
    assert '# "AMLO",  # matched by officials/lopez-obrador' in with_wl.stdout


def test_cli_suggest_bad_input_exits_2(tmp_path):
    missing = run_monitor("seeds", "suggest", "nowhere", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("monitor: error: nowhere: no such file or folder")
    bad_count = run_monitor("seeds", "suggest", "--min-count", "0", cwd=tmp_path)
    assert bad_count.returncode == 2 and "--min-count" in bad_count.stderr
