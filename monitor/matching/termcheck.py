"""What can be wrong with a watchlist term, alone or beside the other terms of its topic.

A term is seen the way the matcher sees it (`signature`): its folded word keys
(case, accents, possessives and simple plurals folded) and which words are
upper-case acronyms. Two terms with the same signature are one term written
twice; a term whose signature contains an exclude's is vetoed wherever it
matches exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from monitor.matching.typos import MAX_WORD_LETTERS, MIN_FUZZY_LEN
from monitor.text.textnorm import TOKEN_RE, fold, is_acronym, tokenize

# Single words that appear in most news text in either language: as a whole
# term they would flood a topic.
NOISY_WORDS = {
    "the",
    "and",
    "of",
    "in",
    "on",
    "for",
    "to",
    "a",
    "an",
    "is",
    "us",
    "news",
    "mexico",
    "security",
    "government",
    "president",
    "police",
    "el",
    "la",
    "los",
    "las",
    "de",
    "del",
    "en",
    "y",
    "que",
    "un",
    "una",
    "por",
    "con",
    "mayo",
    "gobierno",
    "seguridad",
    "presidente",
    "presidenta",
    "méxico",
    "policia",
    "policía",
}
# At or above this many letters a typo is tolerated: warn when it is this short or shorter.
LOOSE_FUZZY_LEN = 6

# A term is a name or a short phrase. No real word is longer than MAX_WORD_LETTERS
# (typos.py), and a phrase of more than MAX_TERM_WORDS words is a sentence that will
# never recur verbatim: ideas that co-occur are all_of.
MAX_TERM_WORDS = 12
MAX_TERM_CHARS = 200

Signature = tuple[tuple[str, bool], ...]


def shown(term: str, width: int = 60) -> str:
    """The term quoted for a message, cut short so one bad term never floods the report."""
    return repr(term if len(term) <= width else term[: width - 1] + "…")


def term_problem(term: str) -> str | None:
    """Why a term can never be a usable match, or None."""
    words = TOKEN_RE.findall(fold(term))
    if not term.strip():
        return "is empty"
    if not words:
        return "has no letters or digits, so it can never match"
    longest = max(words, key=len)
    if len(longest) > MAX_WORD_LETTERS:
        return (
            f"has a word of {len(longest):,} letters ({longest[:12]}…): longer than any real word "
            f"(at most {MAX_WORD_LETTERS})"
        )
    if len(term) > MAX_TERM_CHARS:
        return (
            f"is {len(term):,} characters long: a term is a name or short phrase "
            f"(at most {MAX_TERM_CHARS})"
        )
    if len(words) > MAX_TERM_WORDS:
        return (
            f"has {len(words)} words: a term is a name or short phrase (at most {MAX_TERM_WORDS});"
            " list words that must appear together as all_of groups"
        )
    if len(words) == 1 and len(words[0].replace(".", "")) < 2:
        if is_acronym(term.strip()):
            return "is an acronym of one letter: it would only ever find stray initials"
        return "is a single character, which can never match as a whole word in news text"
    return None


def term_noise(term: str) -> str | None:
    """Why a term is likely to flood the topic, or None."""
    words = TOKEN_RE.findall(fold(term))
    if len(words) > 1 and all(w in NOISY_WORDS for w in words):
        return (
            "is made of common words only: expect false alerts (see what `monitor backtest` finds)"
        )
    if len(words) != 1:
        return None
    word = words[0]
    if word in NOISY_WORDS or fold(term.strip()) in NOISY_WORDS:
        return "is a common word on its own: expect many false alerts (use all_of or a phrase)"
    if len(word) <= 3 and not is_acronym(term.strip()):
        return "is a short lower-case word: expect false alerts (write acronyms in capitals)"
    return None


def signature(term: str) -> Signature:
    """The term as the matcher compiles it: (word key, is an acronym) per word."""
    return tuple((t.key, is_acronym(t.original)) for t in tokenize(term))


def repeated_terms(terms: Sequence[str]) -> list[tuple[str, str]]:
    """(term, the earlier term) for every term listed twice, up to case and spacing.

    Spellings the matcher folds together on purpose (cártel / cartel, operación
    / operaciones) are not reported: writing both documents the bilingual intent.
    """
    first: dict[tuple[Signature, tuple[str, ...]], str] = {}
    repeats = []
    for term in terms:
        key = (signature(term), tuple(term.casefold().split()))
        if not key[0]:
            continue
        if key in first:
            repeats.append((term, first[key]))
        else:
            first[key] = term
    return repeats


def vetoing_exclude(term: str, excludes: Sequence[str]) -> str | None:
    """The exclude that matches wherever `term` matches exactly, or None.

    Excludes match exactly, and an acronym exclude only in capitals, so the
    veto is certain when the exclude's words appear inside the term's words
    with the same keys (and in capitals wherever the exclude needs them).
    """
    words = signature(term)
    for exclude in excludes:
        veto = signature(exclude)
        if not veto or len(veto) > len(words):
            continue
        for start in range(len(words) - len(veto) + 1):
            window = words[start : start + len(veto)]
            if all(
                w_key == v_key and (w_acr or not v_acr)
                for (w_key, w_acr), (v_key, v_acr) in zip(window, veto, strict=True)
            ):
                return exclude
    return None


def fuzzy_note(fuzzy: int) -> str | None:
    """A warning when `fuzzy` is so low that short, common words take typos."""
    if fuzzy >= 100:
        return None
    shortest = MIN_FUZZY_LEN if fuzzy <= 0 else max(MIN_FUZZY_LEN, math.ceil(fuzzy / (100 - fuzzy)))
    if shortest > LOOSE_FUZZY_LEN:
        return None
    return (
        f"fuzzy {fuzzy} lets words of {shortest} letters match with a typo: "
        "expect look-alike words to match (87-90 is usual)"
    )
