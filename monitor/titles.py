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
O(n²); instead each title is indexed under its three longest words (long
words are the rare ones: names, places, "Bicentennial") and compared only
with titles sharing one of them; titles that close share at least one (an
added word displaces at most one of the three).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

NEAR_DUPLICATE_JACCARD = 0.85
INDEX_WORDS = 3


def index_words(title_key: str) -> list[str]:
    """The words a title is filed under: its three longest, ties broken alphabetically."""
    words = sorted(set(title_key.split()), key=lambda w: (-len(w), w))
    return words[:INDEX_WORDS]


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
    by_word: dict[str, list[tuple[str, frozenset[str]]]] = field(default_factory=dict)

    def add(self, article_id: str, url: str, key: str | None) -> None:
        self.ids.add(article_id)
        self.urls.setdefault(url, article_id)
        if key:
            self.add_title(article_id, key)

    def add_title(self, article_id: str, key: str) -> None:
        self.keys.setdefault(key, article_id)
        words = frozenset(key.split())
        for word in index_words(key):
            self.by_word.setdefault(word, []).append((article_id, words))

    def find(self, article_id: str, url: str, key: str | None) -> str | None:
        """The id of the stored article this one duplicates, or None when it is new."""
        if article_id in self.ids:
            return article_id
        if url in self.urls:
            return self.urls[url]
        if not key:
            return None
        if key in self.keys:
            return self.keys[key]
        words = frozenset(key.split())
        for word in index_words(key):
            for other_id, other_words in self.by_word.get(word, ()):
                if is_near_duplicate(words, other_words):
                    return other_id
        return None


def all_index_words(keys: Iterable[str | None]) -> set[str]:
    return {word for key in keys if key for word in index_words(key)}
