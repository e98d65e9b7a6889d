"""Lemmas of Spanish and English words (simplemma), for inflection-proof matching.

"rechaza", "rechazó" and "rechazaron" are all "rechazar"; "seized" is "seize", "flew"
is "fly". The matcher keys lower-case term words and article words by their lemma, so
a rule written with one form finds the others, in either language.

- Gender, where the analyst writes it. simplemma takes "mandataria" to "mandatario",
  but "la mandataria" is Mexico's president and "el mandatario estadounidense" is
  not. So a term written in the feminine keeps its own key and finds feminine forms
  only, while a masculine (or neutral) term finds both: "mexicano" finds "mexicana".
  An article word is therefore looked up under its lemma and, when it is feminine,
  under its feminine form too (`keys`).
- Memory. simplemma's plain dictionaries cost 110 MB in every process that matches
  (the worker and each parse worker); its MARISA tries cost 12 MB. The tries are
  built once (about 2 s) into the user cache folder, written under a temporary name
  and renamed, so processes starting together never read half a file. Where the
  tries cannot be used (no marisa-trie, a read-only cache), the plain dictionaries.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LANGUAGES = ("es", "en")
CACHE_ENV = "NEWS_MONITOR_CACHE"  # where the tries go; default: the user cache folder


def feminine(word: str, lemma: str) -> str | None:
    """The feminine singular of `word` when its lemma is the masculine ("mandatarias",
    "mandatario" -> "mandataria"), else None."""
    base = word[:-1] if word.endswith("s") else word
    if base.endswith("a") and lemma[-1:] in ("o", "e") and lemma[:-1] == base[:-1]:
        return base
    return None


def term_key(word: str, lemma: str) -> str:
    """The key a lower-case term word is matched by: its feminine form if it is one."""
    return feminine(word, lemma) or lemma


def keys(word: str, lemma: str) -> tuple[str, ...]:
    """The keys an article word is looked up under: its lemma, and its feminine form."""
    female = feminine(word, lemma)
    return (lemma, female) if female else (lemma,)


@cache
def lemmatizer() -> Callable[[str], str]:
    """word -> its lemma, for Spanish and English words in one text."""
    from simplemma import Lemmatizer
    from simplemma.strategies import DefaultStrategy

    lemmatize = Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=_factory()))

    def lemma(word: str) -> str:
        return lemmatize.lemmatize(word, lang=LANGUAGES)

    return lemma


def _factory() -> Any:  # simplemma's DictionaryFactory (a Protocol it does not export)
    from simplemma.strategies import DEFAULT_DICTIONARY_FACTORY

    try:
        from simplemma import __version__
        from simplemma.strategies import TrieDictionaryFactory

        folder = _cache_folder() / "lemmas" / f"simplemma-{__version__}"
        _build_tries(folder, TrieDictionaryFactory)
        return TrieDictionaryFactory(disk_cache_dir=str(folder))
    except (ImportError, OSError) as exc:
        log.warning("lemma tries unavailable, using simplemma's dictionaries: %s", exc)
        return DEFAULT_DICTIONARY_FACTORY


def _cache_folder() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("news-monitor"))


def _build_tries(folder: Path, factory_class: Any) -> None:
    """Each language's trie in `folder`, built in a temporary folder beside it, then renamed."""
    missing = [lang for lang in LANGUAGES if not (folder / f"{lang}.dic").is_file()]
    if not missing:
        return
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as building:
        factory = factory_class(disk_cache_dir=building)
        for lang in missing:
            log.info("building the %s lemma trie once (a few seconds) in %s", lang, folder)
            factory.get_dictionary(lang)
            os.replace(Path(building) / f"{lang}.dic", folder / f"{lang}.dic")
