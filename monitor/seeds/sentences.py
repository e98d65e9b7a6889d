"""Sentences and whole-word counting for `seeds.py`.

Sentences carry their tokens with offsets into the whole document, so a
sentence can be quoted and a token's neighbourhood read. Counting compares
token keys the way the matcher does, so "Mérida Initiative" also counts
"Merida initiative's".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.seeds.words import ABBREVIATIONS
from monitor.text.textnorm import Token, fold, is_upper_word, snippet_around, tokenize

QUOTE_WIDTH = 160
HEADING_WORDS = 12
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’)\]]*\s+")
_POSSESSIVE = re.compile(r"['’]s$")


@dataclass(slots=True)
class Sentence:
    doc: int
    text: str  # the whole document: start, end and token offsets point into it
    start: int
    end: int
    heading: bool  # a title, byline or list label rather than running text
    tokens: list[Token] = field(default_factory=list)


def word(token: Token) -> str:
    """The token as written, without a possessive: "Mexico’s" -> "Mexico"."""
    return _POSSESSIVE.sub("", token.original)


def plain(token: Token) -> str:
    """Lower case, no accents, no possessive: for the word lists ("have", not the key "hav")."""
    return fold(word(token))


def sentences_of(doc: int, text: str) -> Iterable[Sentence]:
    offset = 0
    for line in text.splitlines(keepends=True):
        body = line.strip()
        if body:
            start = offset + line.index(body[0])
            heading = is_heading(body)
            for a, b in split_sentences(body):
                sentence = Sentence(doc, text, start + a, start + b, heading)
                sentence.tokens = [
                    Token(t.key, t.original, t.start + start + a, t.end + start + a)
                    for t in tokenize(body[a:b])
                ]
                if sentence.tokens:
                    yield sentence
        offset += len(line)


def is_heading(line: str) -> bool:
    """Titles, bylines and list labels: short and not ended like a sentence, or in
    Title Case and not ended by a full stop (headlines may end with "?")."""
    words = line.split()
    end = line.rstrip('"”’)')
    if len(words) <= HEADING_WORDS and not end.endswith((".", "!", "?")):
        return True
    capitals = [w[0].isupper() for w in words if len(w) >= 4 and w[:1].isalpha()]
    title_case = len(capitals) >= 3 and sum(capitals) >= 0.6 * len(capitals)
    return title_case and len(words) <= 2 * HEADING_WORDS and not end.endswith(".")


def split_sentences(line: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(line):
        before = line[start : match.start()].split()
        last = before[-1].lower() if before else ""
        if re.fullmatch(r"(?:[a-z]\.)*[a-z]", last) or last in ABBREVIATIONS:
            continue  # "U.S. Ambassador", "Gen. Cienfuegos": not the end of a sentence
        spans.append((start, match.start() + len(match.group().rstrip())))
        start = match.end()
    if start < len(line):
        spans.append((start, len(line)))
    return spans


@dataclass(frozen=True, slots=True)
class Match:
    count: int
    documents: int = 0
    sentence: Sentence | None = None  # of the first match, preferring running text
    quote: str = ""  # that sentence, cut around the match
    order: int = 0
    lower_tail: int = 0  # matches whose second and later words are written in lower case


class TermCounter:
    """Whole-word matches of a key sequence across every sentence of every document."""

    def __init__(self, sentences: list[Sentence]) -> None:
        self.tokens = [t for s in sentences for t in s.tokens]
        self.owner = [s for s in sentences for _ in s.tokens]
        self.index: dict[str, list[int]] = {}
        for i, token in enumerate(self.tokens):
            self.index.setdefault(token.key, []).append(i)

    def count(self, key: tuple[str, ...], upper: bool) -> Match:
        size, found = len(key), []
        for i in self.index.get(key[0], ()) if key else ():
            window = self.tokens[i : i + size]
            if (
                tuple(t.key for t in window) == key
                and self.owner[i + size - 1].doc == self.owner[i].doc
                and (not upper or is_upper_word(window[0].original))
            ):
                found.append(i)
        if not found:
            return Match(0)
        first = next((i for i in found if not self.owner[i].heading), found[0])
        sentence = self.owner[first]
        start, end = self.tokens[first].start, self.tokens[first + size - 1].end
        piece = sentence.text[sentence.start : sentence.end]
        quote = snippet_around(piece, start - sentence.start, end - sentence.start, QUOTE_WIDTH)
        lower_tail = sum(
            any(t.original.islower() and len(t.original) > 3 for t in self.tokens[i + 1 : i + size])
            for i in found
        )
        return Match(
            count=len(found),
            documents=len({self.owner[i].doc for i in found}),
            sentence=sentence,
            quote=quote,
            order=first,
            lower_tail=lower_tail,
        )
