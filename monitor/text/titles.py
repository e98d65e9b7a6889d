"""Recognising one story under several URLs by its title (pure; storage does the I/O).

Wire stories are syndicated with small edits: punctuation, case, accents and
possessives (folded away by textnorm), an outlet's name appended (dropped by
parse.py when it can tell), a word added or dropped ("UPDATE:", "new"). Two
titles are the same story when their folded word sets are equal, or overlap
with a Jaccard similarity of at least 0.85: one word added to a title of six
words or more, or one word swapped in a title of thirteen or more. A swapped
word in a short title is often the news itself ("approves" / "rejects"), so
those stay apart. Titles shorter than four words are never compared.

Comparing every new title with every title of the last 48 hours would cost
O(n²), and so would looking titles up under shared words: in a window of
90,000 titles even a title's rarest words are shared by hundreds of others.
Each title is therefore filed under its set of content words and
under that set with any one word left out (a deletion neighbourhood, about
ten keys a title). Two titles that differ by one word swapped, added or
removed meet under one of those keys, so a lookup is a handful of dict hits,
whatever the size of the window; the Jaccard rule then decides. (Near-
duplicates that differ by two added words, possible only past twelve words,
are left as separate stories.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from monitor.text.textnorm import fold_tokens

NEAR_DUPLICATE_JACCARD = 0.85
TITLE_MIN_WORDS = 4
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


def is_near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= NEAR_DUPLICATE_JACCARD


def neighbourhood(words: frozenset[str]) -> list[int]:
    """The keys a title is filed and looked up under: its content words, and each of
    them left out. Hashes stay in this process (they are salted), never stored."""
    content = words - STOPWORDS or words
    return [hash(content), *(hash(content - {word}) for word in content)]


@lru_cache(maxsize=4)
def filing(key: str) -> tuple[frozenset[str], tuple[int, ...]]:
    """A title key's words and neighbourhood. A new title is looked up, then filed under
    the same keys: remembering the last few saves computing them twice."""
    words = frozenset(key.split())
    return words, tuple(neighbourhood(words))


@dataclass(slots=True)
class TitleIndex:
    """Titles in memory, for one batch: id -> key, neighbourhood -> ids. The titles already
    stored are in `recenttitles.RecentTitles`, which keeps far less per title."""

    keys: dict[str, str] = field(default_factory=dict)  # article id -> title key
    filed: dict[int, str | list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, article_id: str, key: str) -> None:
        if article_id in self.keys:
            return
        self.keys[article_id] = key
        for slot in filing(key)[1]:
            filed = self.filed.get(slot)
            if filed is None:
                self.filed[slot] = article_id  # most keys hold one title: no list
            elif isinstance(filed, list):
                filed.append(article_id)
            else:
                self.filed[slot] = [filed, article_id]

    def find(self, key: str) -> str | None:
        """The article whose title is the same or nearly the same, or None."""
        words, slots = filing(key)
        for slot in slots:
            filed = self.filed.get(slot)
            for other in (filed,) if isinstance(filed, str) else filed or ():
                if is_near_duplicate(words, frozenset(self.keys[other].split())):
                    return other
        return None


@dataclass(slots=True)
class SeenArticles:
    """What a batch of articles is compared against: stored ids and URLs, the stored
    recent titles (`stored_title`: the article a title key duplicates, or None) and the
    titles of this batch."""

    stored_title: Callable[[str], str | None]
    ids: set[str] = field(default_factory=set)
    urls: dict[str, str] = field(default_factory=dict)  # canonical URL -> article id
    titles: TitleIndex = field(default_factory=TitleIndex)

    def add(self, article_id: str, url: str, key: str | None) -> None:
        """Remember an article stored in this batch."""
        self.ids.add(article_id)
        self.urls.setdefault(url, article_id)
        if key:
            self.titles.add(article_id, key)

    def find(self, article_id: str, url: str, key: str | None) -> str | None:
        """The id of the stored article this one duplicates, or None when it is new."""
        if article_id in self.ids:
            return article_id
        if url in self.urls:
            return self.urls[url]
        if not key:
            return None
        return self.titles.find(key) or self.stored_title(key)
