"""Folding, token keys and snippets: the rules the matcher builds on.

Each table row is one rule with a positive and a negative case, so a change
to textnorm that breaks a rule names the rule in the failing id.
"""

from __future__ import annotations

import pytest

from monitor.text.textnorm import (
    fold,
    fold_tokens,
    is_acronym,
    is_upper_word,
    singular,
    snippet_around,
    token_key,
    tokenize,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Mérida", "merida", id="acute accent"),
        pytest.param("LÓPEZ OBRADOR", "lopez obrador", id="upper-case accent"),
        pytest.param("Peña Nieto", "pena nieto", id="n-tilde folds to n"),
        pytest.param("AÑO", "ano", id="upper-case n-tilde"),
        pytest.param("pingüino", "pinguino", id="diaeresis"),
        pytest.param("Zambada’s", "zambada's", id="curly apostrophe"),
        pytest.param("cross‑border — talks", "cross-border - talks", id="unicode dashes"),
        pytest.param("Ken\u00a0Salazar", "ken salazar", id="no-break space"),
        pytest.param("İstanbul", "istanbul", id="dotted capital I keeps length"),
        pytest.param("Nguyễn", "nguyen", id="letter outside Latin Extended-A"),
        pytest.param("DEA`s Agents", "dea's agents", id="ASCII fast path maps the backtick"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected
    assert len(fold(text)) == len(text)  # offsets in folded text are offsets in the original


def test_fold_keeps_length_for_characters_it_cannot_map() -> None:
    text = "ﬁscal ẞtraße 東京"  # a ligature, capital sharp s, CJK
    assert len(fold(text)) == len(text)


@pytest.mark.parametrize(
    ("token", "key"),
    [
        pytest.param("dea's", "dea", id="possessive 's"),
        pytest.param("zambada's", "zambada", id="possessive of a name"),
        pytest.param("agents", "agent", id="English plural"),
        pytest.param("operaciones", "operacion", id="Spanish -es plural"),
        pytest.param("operacion", "operacion", id="Spanish singular"),
        pytest.param("agentes", "agent", id="Spanish plural = English singular key"),
        pytest.param("immunities", "immunity", id="-ies plural"),
        pytest.param("carteles", "cartel", id="carteles"),
        pytest.param("congress", "congress", id="double s is not a plural"),
        pytest.param("bus", "bus", id="short words are left alone"),
        pytest.param("u.s.", "us", id="dotted acronym"),
        pytest.param("ee.uu.", "eeuu", id="Spanish dotted acronym"),
        pytest.param("o'brien", "obrien", id="inner apostrophe"),
        pytest.param("2024", "2024", id="digits untouched"),
        pytest.param("shein\u00adbaum", "sheinbaum", id="soft hyphen removed"),
    ],
)
def test_token_key(token: str, key: str) -> None:
    assert token_key(token) == key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("operación", "operaciones"),
        ("unilateral", "unilaterales"),
        ("agent", "agentes"),
        ("case", "cases"),
        ("policy", "policies"),
        ("DEA", "DEA's"),
        ("agents", "agents'"),
    ],
)
def test_singular_and_plural_share_a_key(one: str, other: str) -> None:
    [a], [b] = fold_tokens(one), fold_tokens(other)
    assert token_key(a) == token_key(b)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("mexicano", "mexicana"),  # gender is not folded: watchlists list both on purpose
        ("idea", "dea"),
        ("deal", "dea"),
        ("cartelera", "cartel"),
    ],
)
def test_different_words_keep_different_keys(one: str, other: str) -> None:
    assert token_key(fold(one)) != token_key(fold(other))


def test_singular_only_touches_alphabetic_words_of_four_letters_or_more() -> None:
    assert singular("gas") == "gas"
    assert singular("h2s") == "h2s"
    assert singular("news") == "new"  # symmetric keys, not linguistics


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        pytest.param("cross-border", ["cross", "border"], id="hyphen splits"),
        pytest.param("U.S.-Mexico", ["u.s.", "mexico"], id="dotted acronym then hyphen"),
        pytest.param("EE.UU. y México", ["ee.uu.", "y", "mexico"], id="EE.UU."),
        pytest.param("DEA's agents'", ["dea's", "agents"], id="possessives"),
        pytest.param("Bicentennial\n  Framework", ["bicentennial", "framework"], id="newline"),
        pytest.param("«Sheinbaum», dijo", ["sheinbaum", "dijo"], id="guillemets"),
        pytest.param("Shein\u00adbaum dijo", ["shein\u00adbaum", "dijo"], id="soft hyphen joins"),
    ],
)
def test_fold_tokens(text: str, tokens: list[str]) -> None:
    assert fold_tokens(text) == tokens


def test_tokenize_offsets_point_into_the_original() -> None:
    text = "La DEA’s «reforma» en Mérida"
    for token in tokenize(text):
        assert text[token.start : token.end] == token.original
    assert [t.key for t in tokenize(text)] == ["la", "dea", "reforma", "en", "merida"]


@pytest.mark.parametrize(
    ("word", "upper"),
    [
        ("DEA", True),
        ("D.E.A.", True),
        ("DEA's", True),
        ("DEA’s", True),
        ("DEA'S", True),
        ("DEAs", True),  # an acronym's plural: "the FTOs", "two DEAs"
        ("Dea", False),
        ("dea", False),
        ("dEA", False),
        ("Is", False),  # one capital then s is not an acronym plural
    ],
)
def test_is_upper_word(word: str, upper: bool) -> None:
    assert is_upper_word(word) is upper


@pytest.mark.parametrize(
    ("word", "acronym"),
    [("DEA", True), ("CJNG", True), ("U.S.", True), ("EE.UU.", True), ("DEA's", True)]
    + [("SEDENA", False)]
    + [("Dea", False), ("dea", False), ("G20", False)],
)
def test_is_acronym(word: str, acronym: bool) -> None:
    assert is_acronym(word) is acronym


# -- snippets -----------------------------------------------------------------

WORDS = " ".join(f"word{i:03d}" for i in range(200))  # 1,599 characters, spaces every 8


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_snippet_is_about_200_characters_centred_on_the_match(where: float) -> None:
    start = WORDS.index(f"word{int(200 * where):03d}")
    end = start + 7
    snippet = snippet_around(WORDS, start, end, 200)
    body = snippet.strip("…")
    assert 180 <= len(body) <= 200
    assert WORDS[start:end] in snippet
    left = body.index(WORDS[start:end])
    right = len(body) - (left + end - start)
    assert abs(left - right) <= 20, (left, right)
    assert snippet.startswith("…") and snippet.endswith("…")


def test_snippet_at_the_start_of_the_text_takes_more_on_the_right() -> None:
    snippet = snippet_around(WORDS, 0, 7, 200)
    assert snippet.startswith("word000") and snippet.endswith("…")
    assert 180 <= len(snippet.rstrip("…")) <= 200


def test_snippet_at_the_end_of_the_text_takes_more_on_the_left() -> None:
    snippet = snippet_around(WORDS, len(WORDS) - 7, len(WORDS), 200)
    assert snippet.endswith("word199") and snippet.startswith("…")
    assert 180 <= len(snippet.lstrip("…")) <= 200


def test_snippet_of_short_text_is_the_whole_text_on_one_line() -> None:
    assert snippet_around("Sheinbaum\n  habla   hoy", 0, 9) == "Sheinbaum habla hoy"


def test_snippet_cuts_at_word_boundaries() -> None:
    snippet = snippet_around(WORDS, 800, 807, 200)
    for piece in snippet.strip("…").split():
        assert piece.startswith("word") and len(piece) == 7
