"""Compiled watchlists -> `Matcher.match(article) -> list[Hit]`. Pure: no I/O.

How a text is matched, cheapest step first:
1. fold and tokenise each field once (`textnorm`);
2. look every distinct token up in a cache of its candidate term words: an
   exact key hit, or a typo-tolerant one found through a deletion index
   (SymSpell: two words within k typos share a string reachable by at most k
   deletions from each) and confirmed with rapidfuzz's OSA distance, where a
   swap of two adjacent letters counts as one typo;
3. only fields with a candidate are tokenised again with offsets, to check
   multi-word terms word by word, the upper-case rule for acronyms, all_of
   windows and excludes, and to cut the snippet.
Most articles stop after step 2, and the cache makes step 2 one dict lookup per
token once the vocabulary of the feeds has been seen.

Similarity of a word with typos is 100 × letters / (letters + typos): at the
default `fuzzy = 90` a word needs nine letters to tolerate one typo
("Sheinbuam" finds Sheinbaum, "Zambda" does not find Zambada), eighteen for two.
Words shorter than five letters and acronyms are always matched exactly, so
typo tolerance never turns a short word into another.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from .models import Article, Hit
from .textnorm import TOKEN_RE, fold, is_acronym, is_upper_word, snippet_around, token_key
from .watchlists import Topic, Watchlist

MIN_FUZZY_LEN = 5
MAX_TYPOS = 2
SNIPPET_WIDTH = 200
CACHE_LIMIT = 400_000

TERM, GROUP, EXCLUDE = "term", "group", "exclude"


def allowed_typos(length: int, fuzzy: int) -> int:
    """How many typos a term word of `length` letters tolerates at `fuzzy`."""
    if fuzzy >= 100 or length < MIN_FUZZY_LEN:
        return 0
    if fuzzy <= 0:
        return MAX_TYPOS
    return min(MAX_TYPOS, math.floor(length * (100 - fuzzy) / fuzzy + 1e-9))


def similarity(letters: int, typos: int) -> float:
    return round(100.0 * letters / (letters + typos), 1) if typos else 100.0


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One term of one topic, as a sequence of word ids."""

    text: str
    topic: int  # index into Matcher.topics
    role: str  # TERM, GROUP or EXCLUDE
    group: int
    words: tuple[int, ...]
    acronym: tuple[bool, ...]
    max_typos: tuple[int, ...]
    letters: int


@dataclass(frozen=True, slots=True)
class _Occurrence:
    pattern: _Pattern
    field: str
    position: int  # token index across all fields, for all_of windows
    start: int  # character span in the field text
    end: int
    typos: int

    @property
    def score(self) -> float:
        return similarity(self.pattern.letters, self.typos)


@dataclass(frozen=True, slots=True)
class _TopicRef:
    watchlist: str
    topic: Topic


class Matcher:
    """Watchlists compiled once; `match` is then called for every article."""

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        self.topics: list[_TopicRef] = []
        self.words: list[str] = []
        self._word_ids: dict[str, int] = {}
        self._word_allowance: list[int] = []
        self._first_word: dict[int, list[_Pattern]] = {}
        self._deletes: dict[str, set[int]] = {}
        self._max_typos = 0
        self._cache: dict[str, tuple[tuple[int, int], ...]] = {}
        for watchlist in watchlists:
            for topic in watchlist.topics:
                self._compile_topic(watchlist.id, topic)
        for wid, word in enumerate(self.words):
            for variant in _deletions(word, self._word_allowance[wid]):
                self._deletes.setdefault(variant, set()).add(wid)
        self._max_typos = max(self._word_allowance, default=0)

    # -- compiling -------------------------------------------------------------
    def _compile_topic(self, watchlist_id: str, topic: Topic) -> None:
        index = len(self.topics)
        self.topics.append(_TopicRef(watchlist_id, topic))
        for term in topic.terms:
            self._add_pattern(term, index, TERM, 0, topic.fuzzy)
        for group_index, group in enumerate(topic.all_of):
            for term in group:
                self._add_pattern(term, index, GROUP, group_index, topic.fuzzy)
        for term in topic.exclude:
            # excludes are exact: a typo should not silently veto a real story
            self._add_pattern(term, index, EXCLUDE, 0, 100)

    def _add_pattern(self, text: str, topic: int, role: str, group: int, fuzzy: int) -> None:
        folded = fold(text)
        raw_words = [text[m.start() : m.end()] for m in TOKEN_RE.finditer(folded)]
        keys = [token_key(m.group()) for m in TOKEN_RE.finditer(folded)]
        if not keys:
            return
        acronym = tuple(is_acronym(w) for w in raw_words)
        max_typos = tuple(
            0 if acr else allowed_typos(len(key), fuzzy) if key.isalpha() else 0
            for key, acr in zip(keys, acronym, strict=True)
        )
        ids = tuple(self._word_id(k, t) for k, t in zip(keys, max_typos, strict=True))
        pattern = _Pattern(
            text, topic, role, group, ids, acronym, max_typos, sum(len(k) for k in keys)
        )
        self._first_word.setdefault(ids[0], []).append(pattern)

    def _word_id(self, key: str, allowance: int) -> int:
        wid = self._word_ids.get(key)
        if wid is None:
            wid = self._word_ids[key] = len(self.words)
            self.words.append(key)
            self._word_allowance.append(allowance)
        else:
            self._word_allowance[wid] = max(self._word_allowance[wid], allowance)
        return wid

    # -- candidates --------------------------------------------------------------
    def _candidates(self, token: str) -> tuple[tuple[int, int], ...]:
        """(word id, typos) pairs a folded token may stand for."""
        key = token_key(token)
        found: dict[int, int] = {}
        wid = self._word_ids.get(key)
        if wid is not None:
            found[wid] = 0
        if self._max_typos and key.isalpha() and len(key) >= MIN_FUZZY_LEN - self._max_typos:
            for variant in _deletions(key, self._max_typos):
                for wid in self._deletes.get(variant, ()):
                    if wid in found:
                        continue
                    limit = self._word_allowance[wid]
                    typos = OSA.distance(key, self.words[wid], score_cutoff=limit)
                    if typos <= limit:
                        found[wid] = typos
        return tuple(found.items())

    def _token_candidates(self, tokens: list[str]) -> list[tuple[tuple[int, int], ...]]:
        cache = self._cache
        if len(cache) > CACHE_LIMIT:
            cache.clear()
        for token in set(tokens).difference(cache):
            cache[token] = self._candidates(token)
        return list(map(cache.__getitem__, tokens))

    # -- matching ---------------------------------------------------------------
    def match(self, article: Article) -> list[Hit]:
        """Every topic the article matches, with the term, score and snippet."""
        fields = [
            (name, text)
            for name, text in (
                ("title", article.title),
                ("summary", article.summary),
                ("content", article.content),
            )
            if text
        ]
        occurrences: list[_Occurrence] = []
        texts: dict[str, str] = {}
        offset = 0
        for name, text in fields:
            folded = fold(text)
            tokens = TOKEN_RE.findall(folded)
            candidates = self._token_candidates(tokens)
            if any(candidates):
                texts[name] = text
                spans = [m.span() for m in TOKEN_RE.finditer(folded)]
                occurrences.extend(self._find(name, text, spans, candidates, offset))
            offset += len(tokens)
        if not occurrences:
            return []
        return self._decide(article.id, occurrences, texts)

    def _find(self, field: str, text: str, spans, candidates, offset) -> Iterable[_Occurrence]:
        for position, cands in enumerate(candidates):
            for wid, typos in cands:
                for pattern in self._first_word.get(wid, ()):
                    total = self._match_pattern(pattern, position, typos, text, spans, candidates)
                    if total is not None:
                        end = spans[position + len(pattern.words) - 1][1]
                        yield _Occurrence(
                            pattern, field, offset + position, spans[position][0], end, total
                        )

    @staticmethod
    def _match_pattern(pattern, position, first_typos, text, spans, candidates) -> int | None:
        """Total typos if `pattern` matches starting at `position`, else None."""
        words = pattern.words
        if position + len(words) > len(candidates):
            return None
        total = 0
        for i, wid in enumerate(words):
            typos = first_typos if i == 0 else dict(candidates[position + i]).get(wid)
            if typos is None or typos > pattern.max_typos[i]:
                return None
            if pattern.acronym[i]:
                start, end = spans[position + i]
                if not is_upper_word(text[start:end]):
                    return None
            total += typos
        return total

    def _decide(self, article_id: str, occurrences: list[_Occurrence], texts) -> list[Hit]:
        by_topic: dict[int, list[_Occurrence]] = {}
        for occ in occurrences:
            by_topic.setdefault(occ.pattern.topic, []).append(occ)
        hits = []
        for topic_index in sorted(by_topic):
            found = by_topic[topic_index]
            if any(o.pattern.role == EXCLUDE for o in found):
                continue
            ref = self.topics[topic_index]
            hit = self._term_hit(found) or self._all_of_hit(found, ref.topic)
            if hit is None:
                continue
            term, score, first, last = hit
            text = texts[first.field]
            # an all_of span wider than the snippet is shown around its first member
            together = last.field == first.field and last.end - first.start <= SNIPPET_WIDTH
            end = last.end if together else first.end
            hits.append(
                Hit(
                    article_id=article_id,
                    watchlist=ref.watchlist,
                    topic=ref.topic.id,
                    term=term,
                    score=score,
                    snippet=snippet_around(text, first.start, end, SNIPPET_WIDTH),
                    field=first.field,
                    priority=ref.topic.priority,
                )
            )
        return hits

    @staticmethod
    def _term_hit(found: list[_Occurrence]):
        terms = [o for o in found if o.pattern.role == TERM]
        if not terms:
            return None
        best = min(terms, key=lambda o: (-o.score, o.position))
        return best.pattern.text, best.score, best, best

    @staticmethod
    def _all_of_hit(found: list[_Occurrence], topic: Topic):
        groups = len(topic.all_of)
        members = sorted((o for o in found if o.pattern.role == GROUP), key=lambda o: o.position)
        if groups < 2 or len({o.pattern.group for o in members}) < groups:
            return None
        chosen = _smallest_window(members, groups)
        span = chosen[-1].position - chosen[0].position
        if topic.window is not None and span > topic.window:
            return None
        # one occurrence may fill several groups (a phrase listed in two): name it once
        shown = {
            (o.field, o.start, o.end): o for o in sorted(chosen, key=lambda o: -o.pattern.group)
        }
        term = " + ".join(
            o.pattern.text for o in sorted(shown.values(), key=lambda o: o.pattern.group)
        )
        score = min(o.score for o in chosen)
        return term, score, chosen[0], chosen[-1]


def _smallest_window(members: list[_Occurrence], groups: int) -> list[_Occurrence]:
    """The occurrences, one per group, spanning the fewest words (sliding window)."""
    counts: dict[int, int] = {}
    best: tuple[int, int] | None = None
    left = 0
    for right, occ in enumerate(members):
        counts[occ.pattern.group] = counts.get(occ.pattern.group, 0) + 1
        while len(counts) == groups:
            span = members[right].position - members[left].position
            if best is None or span < members[best[1]].position - members[best[0]].position:
                best = (left, right)
            group = members[left].pattern.group
            counts[group] -= 1
            if not counts[group]:
                del counts[group]
            left += 1
    assert best is not None
    window = members[best[0] : best[1] + 1]
    picked: dict[int, _Occurrence] = {}
    for occ in window:
        picked.setdefault(occ.pattern.group, occ)
    return sorted(picked.values(), key=lambda o: o.position)


def _deletions(word: str, depth: int) -> set[str]:
    """`word` and every string reachable from it by at most `depth` deletions."""
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out
