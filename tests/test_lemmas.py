"""Inflection-proof matching: lower-case term words match every form of their lemma.

Verb forms matter for rules: "rechaza / rechazó / rechazan", "seize / seized". Before,
only plurals were folded, so a rule had to list every form it might meet.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from monitor.core.models import Article
from monitor.matching.lemmas import keys, lemmatizer, term_key
from monitor.matching.library import compile_matcher
from monitor.matching.watchlists import Topic, Watchlist


def topics(terms: tuple[str, ...], title: str) -> set[str]:
    watchlist = Watchlist("w", "W", (Topic("t", "T", terms=terms),))
    article = Article(id="a", feed_url="f", url="u", title=title)
    return {hit.term for hit in compile_matcher([watchlist]).match(article)}


@pytest.mark.parametrize(
    "term, text",
    [
        ("rechazar ataques", "Sheinbaum rechaza ataques"),
        ("rechazar ataques", "El Senado rechazó ataques"),
        ("rechazar ataques", "Legisladores rechazaron ataques"),
        ("seize cartel leader", "Agents seized cartel leader"),
        ("strike cartel labs", "Jets struck cartel labs"),
        ("bombardear laboratorios", "Trump bombardearía laboratorios"),
        ("capturar", "Lo capturaron en Sinaloa"),
    ],
)
def test_a_lower_case_term_finds_every_form(term, text):
    assert topics((term,), text) == {term}


@pytest.mark.parametrize(
    "term, text",
    [
        ("la mandataria", "El mandatario estadounidense habló"),  # gender is kept
        ("la presidenta", "El presidente de Perú"),
        ("Rechazar", "Sheinbaum rechazó"),  # a capitalised word (a name) is matched as written
    ],
)
def test_gender_and_names_are_kept_apart(term, text):
    assert topics((term,), text) == set()


def test_a_feminine_term_keeps_its_gender_and_a_masculine_one_finds_both():
    assert term_key("mandataria", "mandatario") == "mandataria"
    assert term_key("operaciones", "operación") == "operación"
    assert keys("mandatarias", "mandatario") == ("mandatario", "mandataria")
    assert topics(("ley mexicano",), "Critican la ley mexicana") == {"ley mexicano"}
    assert topics(("la mandataria",), "La mandataria respondió") == {"la mandataria"}


def test_processes_starting_together_build_the_lemma_tries_once_and_whole(tmp_path):
    """Two parse workers may start at the same moment on a new machine: each builds in a
    temporary folder and renames, so neither ever reads half a trie."""
    env = {**os.environ, "NEWS_MONITOR_CACHE": str(tmp_path)}
    code = "from monitor.matching.lemmas import lemmatizer; print(lemmatizer()('rechazó'))"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    assert [p.communicate(timeout=120)[0].strip() for p in procs] == ["rechazar"] * 2
    files = sorted(p.name for p in (tmp_path / "lemmas").rglob("*") if p.is_file())
    assert files == ["en.dic", "es.dic"]


def test_the_lemmatizer_is_shared():
    assert lemmatizer() is lemmatizer()
