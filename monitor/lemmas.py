"""Lemmas of Spanish and English words (simplemma), for inflection-proof matching.

"rechaza", "rechazó" and "rechazaron" are all "rechazar"; "seized" is "seize", "flew"
is "fly". The matcher keys lower-case term words and article words by their lemma, so
a rule written with one form finds the others, in either language.

One thing a dictionary lemma loses is kept: grammatical gender. simplemma takes
"mandataria" to "mandatario", but "la mandataria" is Mexico's president and "el
mandatario estadounidense" is not. A feminine form keeps its own key.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

LANGUAGES = ("es", "en")


def lemma_key(word: str, lemma: str) -> str:
    """The key a lower-case `word` is matched by, given its dictionary `lemma`."""
    base = word[:-1] if word.endswith("s") else word
    if base.endswith("a") and lemma[-1:] in ("o", "e") and lemma[:-1] == base[:-1]:
        return base  # feminine: mandataria(s) stays apart from mandatario
    return lemma


@cache
def lemmatizer() -> Callable[[str], str]:
    """word -> matching key, for Spanish and English words in one text."""
    import simplemma

    def key(word: str) -> str:
        return lemma_key(word, simplemma.lemmatize(word, lang=LANGUAGES))

    return key
