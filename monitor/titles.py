"""Recognising one story under several URLs by its title (pure; store.py does the I/O).

Wire stories are syndicated with small edits: punctuation, case, accents and
possessives (folded away by textnorm), an outlet's name appended (dropped by
parse.py when it can tell), a word added or dropped ("UPDATE:", "new"). Two
titles are the same story when their folded word sets are equal, or overlap
with a Jaccard similarity of at least 0.85: one word added to a title of six
words or more, or one word swapped in a title of thirteen or more. A swapped
word in a short title is often the news itself ("approves" / "rejects"), so
those stay apart. Titles shorter than four words are never compared.

Comparing every new title with every title of the last 48 hours would cost
O(n²), and so would filing titles under single words: "government" or
"Sheinbaum" head thousands of titles. Instead each title is filed under the
pairs of its four "bottom" words: the content words (no stopwords) with the
smallest stable hash, a bottom-k sketch. A pair of words is rare even when
each word is common, so a lookup finds few candidates; and two titles that
differ by one or two words (every near-duplicate of up to about 20 content
words) keep at least two bottom words in common, so they share a pair.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

from .models import TitleKey
from .textnorm import fold_tokens

NEAR_DUPLICATE_JACCARD = 0.85
TITLE_MIN_WORDS = 4
SKETCH_WORDS = 4
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "after",
        "over",
        "into",
        "new",
        "says",
        "said",
        "al",
        "con",
        "de",
        "del",
        "el",
        "en",
        "es",
        "la",
        "las",
        "lo",
        "los",
        "para",
        "por",
        "que",
        "se",
        "su",
        "sus",
        "un",
        "una",
        "y",
    ]
)


def title_key(title: str) -> str | None:
    """Folded title words, for recognising one story under several URLs."""
    words = fold_tokens(title)
    return " ".join(words) if len(words) >= TITLE_MIN_WORDS else None


def title_keys(title: str) -> TitleKey:
    key = title_key(title)
    return TitleKey(key, index_keys(key) if key else ())


@lru_cache(maxsize=16_384)
def index_keys(title_key: str) -> tuple[str, ...]:
    """The keys a title is filed under: the pairs of its bottom-4 content words."""
    words = {w for w in title_key.split() if w not in STOPWORDS and len(w) > 1}
    bottom = sorted(sorted(words, key=_stable_hash)[:SKETCH_WORDS])
    if len(bottom) < 2:
        return tuple(bottom)
    return tuple(f"{a} {b}" for a, b in combinations(bottom, 2))


def _stable_hash(word: str) -> int:
    """The same in every process and run (str hashes are salted), since keys are stored."""
    return zlib.crc32(word.encode())


def is_near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= NEAR_DUPLICATE_JACCARD


@dataclass(slots=True)
class SeenArticles:
    """What a batch of articles is compared against: stored ones plus the batch so far."""

    ids: set[str] = field(default_factory=set)
    urls: dict[str, str] = field(default_factory=dict)  # canonical URL -> article id
    keys: dict[str, str] = field(default_factory=dict)  # title key -> article id
    words: dict[str, frozenset[str]] = field(default_factory=dict)  # article id -> title words
    filed: dict[str, list[str]] = field(default_factory=dict)  # index key -> article ids

    def add(self, article_id: str, url: str, title: TitleKey) -> None:
        """Remember an article stored in this batch."""
        self.ids.add(article_id)
        self.urls.setdefault(url, article_id)
        if title.key:
            for index_key in title.index:
                self.add_candidate(index_key, article_id, title.key)

    def add_candidate(self, index_key: str, article_id: str, key: str) -> None:
        """Remember a stored title filed under `index_key` (one row of the title index)."""
        if article_id not in self.words:
            self.words[article_id] = frozenset(key.split())
            self.keys.setdefault(key, article_id)
        self.filed.setdefault(index_key, []).append(article_id)

    def find(self, article_id: str, url: str, title: TitleKey) -> str | None:
        """The id of the stored article this one duplicates, or None when it is new."""
        if article_id in self.ids:
            return article_id
        if url in self.urls:
            return self.urls[url]
        if not title.key:
            return None
        if title.key in self.keys:
            return self.keys[title.key]
        words = frozenset(title.key.split())
        for index_key in title.index:
            for other_id in self.filed.get(index_key, ()):
                if is_near_duplicate(words, self.words[other_id]):
                    return other_id
        return None


def all_index_keys(titles: Iterable[TitleKey]) -> set[str]:
    return {index_key for title in titles for index_key in title.index}
