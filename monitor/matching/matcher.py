"""Compiled watchlists -> `Matcher.match(article) -> list[Hit]`. Pure: no I/O.

How a text is matched, cheapest step first:
1. split each field into tokens once (`textnorm.TOKEN_RE`, on the original text);
2. look every distinct token up in a cache of the term words it may stand for:
   an exact key hit (case- and accent-folded, singular, no possessive), the
   acronym form only when the token is written in capitals, or a typo-tolerant
   hit found through a deletion index (SymSpell: two words within k typos share
   a string reachable by at most k deletions from each) and confirmed with
   rapidfuzz's OSA distance, where a swap of two adjacent letters is one typo;
3. a set test: a topic can only match if every word of one of its terms, or of
   one term in each all_of group, is among the article's candidate words. Each
   topic is woken only by its rarest words, so the common words that start
   phrases ("la", "the") or fill all_of groups ("Mexico") cost nothing here;
4. only the topics still possible are checked word by word (order, typo
   allowances), offsets are computed for the fields that really match, and
   topicrules.py decides (excludes, terms, all_of windows, score, snippet).
After warm-up step 2 is one dict lookup per token; benchmarks/README.md has
the numbers (10,000 articles × 1,000 terms in well under a second of CPU).

Similarity of a word with typos is 100 × letters / (letters + typos): at the
default `fuzzy = 90` a word needs nine letters to tolerate one typo
("Sheinbuam" finds Sheinbaum, "Zambda" does not find Zambada), eighteen for two.
Words shorter than five letters and acronyms are always matched exactly, so
typo tolerance never turns a short word into another.
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from typing import cast

from rapidfuzz.distance import OSA

from monitor.core.models import Article, Hit
from monitor.matching.lemmas import keys as lemma_keys
from monitor.matching.lemmas import term_key
from monitor.matching.rules import (
    EXCLUDE,
    GROUP,
    TERM,
    CompiledRule,
    CompiledTopic,
    Occurrence,
    Pattern,
    all_patterns,
    decide,
    similarity,
)
from monitor.matching.typos import MIN_FUZZY_LEN, allowed_typos
from monitor.matching.typos import deletions as _deletions  # a module global: tests count calls
from monitor.matching.watchlists import NOISY_WORDS, SENTENCE, Topic, Watchlist
from monitor.text.textnorm import (
    TOKEN_RE,
    fold,
    is_acronym,
    is_upper_word,
    sentence_ends,
    token_key,
)

__all__ = ["Matcher", "allowed_typos", "similarity"]

MIN_LEMMA_LEN = 4  # shorter words are function words ("la" -> "el", "fue" -> "ser")
PREFIX = 3  # irregular forms that change their first letters ("flew") are written out
CACHE_LIMIT = 400_000

FIELDS = ("title", "summary", "content")
SENTENCES_PER_FIELD = 1_000_000  # each field starts a new sentence
_NO_CANDIDATES: dict[int, int] = {}  # shared by every token that is no term word; never mutated


class Matcher:
    """Watchlists compiled once; `match` is then called for every article."""

    def __init__(
        self, watchlists: Sequence[Watchlist], lemma: Callable[[str], str] | None = None
    ) -> None:
        self.lemma = lemma  # lower-case word -> its lemma (see lemmas.py); None: plurals only
        self._lemma_ids: dict[str, list[int]] = {}  # folded lemma -> lower-case term words
        # an article word is looked up by lemma only if it starts like a term word or its
        # lemma: most words never are, and a lemma lookup costs ten dict lookups
        self._lemma_prefixes: set[str] = set()
        self.topics: list[CompiledTopic] = []
        self.words: list[str] = []  # word id -> folded key
        self._word_ids: dict[str, int] = {}  # key -> id, matched in any case
        self._acronym_ids: dict[str, int] = {}  # key -> id, matched only in capitals
        self._allowance: list[int] = []  # word id -> typos it tolerates (max over patterns)
        self._uses: list[int] = []  # word id -> patterns using it, to guess how common it is
        self._named: list[bool] = []  # word id -> capitalised in some term: a name
        self._deletes: dict[str, set[int]] = {}
        self._triggers: dict[int, list[int]] = {}  # word id -> topics it wakes up
        self._cache: dict[str, dict[int, int]] = {}
        for watchlist in watchlists:
            for topic in watchlist.topics:
                self.topics.append(self._compile_topic(watchlist.id, topic))
        for wid, word in enumerate(self.words):
            if self._allowance[wid]:
                for variant in _deletions(word, self._allowance[wid]):
                    self._deletes.setdefault(variant, set()).add(wid)
        self._max_typos = max(self._allowance, default=0)
        # A token can only be within `k` typos of a term word if its length differs by
        # at most `k`: longer tokens skip the deletion index, whose cost grows with the
        # cube of a token's length (a 4,000-letter "word" in a title ran out of memory).
        self._max_fuzzy_len = max(
            (
                len(word) + self._allowance[wid]
                for wid, word in enumerate(self.words)
                if self._allowance[wid]
            ),
            default=0,
        )
        self._index_triggers()

    # -- compiling -------------------------------------------------------------
    def _compile_topic(self, watchlist_id: str, topic: Topic) -> CompiledTopic:
        index, fuzzy = len(self.topics), topic.fuzzy
        rules = [
            CompiledRule(
                groups=[
                    self._patterns(g, index, GROUP, i, fuzzy, number)
                    for i, g in enumerate(rule.all_of)
                ],
                excludes=self._patterns(rule.exclude, index, EXCLUDE, 0, 100, number),
                window=rule.window if isinstance(rule.window, int) else None,
                sentence=rule.window == SENTENCE,
            )
            for number, rule in enumerate(topic.all_rules)
        ]
        return CompiledTopic(
            watchlist_id,
            topic,
            terms=self._patterns(topic.terms, index, TERM, 0, fuzzy),
            rules=rules,
            # excludes are exact: a typo should not silently veto a real story
            excludes=self._patterns(topic.exclude, index, EXCLUDE, 0, 100),
        )

    def _patterns(
        self,
        terms: Sequence[str],
        topic: int,
        role: str,
        group: int,
        fuzzy: int,
        rule: int = -1,
    ) -> list[Pattern]:
        patterns = []
        for text in terms:
            folded = fold(text)
            spans = [m.span() for m in TOKEN_RE.finditer(folded)]
            if not spans:
                continue
            words, max_typos = [], []
            for start, end in spans:
                key, raw = token_key(folded[start:end]), text[start:end]
                acronym = is_acronym(raw)
                # typos only in names: a lower-case word varies by inflection, and one typo
                # away it is often another word ("presidenta" / "president")
                named = raw[:1].isupper()
                typos = (
                    allowed_typos(len(key), fuzzy) if named and key.isalpha() and not acronym else 0
                )
                wid = self._word_id(key, acronym, typos, raw[:1].isupper())
                words.append(wid)
                max_typos.append(typos)
                if self.lemma and raw[:1].islower() and len(raw) >= MIN_LEMMA_LEN and raw.isalpha():
                    lemma = fold(term_key(raw, self.lemma(raw)))
                    ids = self._lemma_ids.setdefault(lemma, [])
                    if wid not in ids:  # "rechazar" also stands for rechaza, rechazó ...
                        ids.append(wid)
                    self._lemma_prefixes.update((key[:PREFIX], lemma[:PREFIX]))
            letters = sum(len(self.words[w]) for w in words)
            patterns.append(
                Pattern(text, topic, role, group, tuple(words), tuple(max_typos), letters, rule)
            )
        return patterns

    def _word_id(self, key: str, acronym: bool, allowance: int, named: bool) -> int:
        ids = self._acronym_ids if acronym else self._word_ids
        wid = ids.get(key)
        if wid is None:
            wid = ids[key] = len(self.words)
            self.words.append(key)
            self._allowance.append(allowance)
            self._uses.append(0)
            self._named.append(False)
        self._allowance[wid] = max(self._allowance[wid], allowance)
        self._uses[wid] += 1
        self._named[wid] |= named
        return wid

    def _index_triggers(self) -> None:
        """Wake each topic only through its rarest words (see step 3 above).

        How common a word is, is guessed from the watchlists themselves: the
        noisy words the validator warns about and words of one or two letters
        are the worst triggers; then a word the analyst capitalised (a name:
        "embajador Salazar", "arrest of Hocon") beats a lower-case one; then a
        word used by fewer patterns; then a longer one. A term wakes its topic
        through its rarest word; an all_of topic through its rarest group.
        """

        def weight(wid: int) -> tuple[bool, bool, int, int]:
            word = self.words[wid]
            noisy = word in NOISY_WORDS or len(word) <= 2
            return (noisy, not self._named[wid], self._uses[wid], -len(word))

        def anchor(pattern: Pattern) -> int:
            return min(pattern.words, key=weight)

        for index, topic in enumerate(self.topics):
            anchors = [anchor(p) for p in topic.terms]
            for rule in topic.rules:
                rarest = min(rule.groups, key=lambda g: max(weight(anchor(p)) for p in g))
                anchors += [anchor(p) for p in rarest]
            for wid in set(anchors):
                self._triggers.setdefault(wid, []).append(index)

    # -- candidates --------------------------------------------------------------
    def _candidates(self, token: str) -> dict[int, int]:
        """{word id: typos} for the term words an original-text token may stand for."""
        key = token_key(fold(token))
        found: dict[int, int] = {}
        wid = self._word_ids.get(key)
        if wid is not None:
            found[wid] = 0
        wid = self._acronym_ids.get(key)
        if wid is not None and is_upper_word(token):
            found[wid] = 0
        if (
            key[:PREFIX] in self._lemma_prefixes
            and len(token) >= MIN_LEMMA_LEN
            and token.isalpha()
            and self.lemma is not None
        ):
            lower = token.lower()
            for lemma_key in lemma_keys(lower, self.lemma(lower)):
                for wid in self._lemma_ids.get(fold(lemma_key), ()):
                    found.setdefault(wid, 0)
        if (
            self._max_typos
            and MIN_FUZZY_LEN - self._max_typos <= len(key) <= self._max_fuzzy_len
            and key.isalpha()
        ):
            for variant in _deletions(key, self._max_typos):
                for wid in self._deletes.get(variant, ()):
                    if wid not in found:
                        limit = self._allowance[wid]
                        typos = OSA.distance(key, self.words[wid], score_cutoff=limit)
                        if typos <= limit:
                            found[wid] = typos
        return found or _NO_CANDIDATES

    def _token_candidates(self, tokens: list[str]) -> list[dict[int, int]]:
        cache = self._cache
        found = list(map(cache.get, tokens))
        if None in found:  # tokens never seen before: look each up once, then again
            if len(cache) > CACHE_LIMIT:
                cache.clear()
            for token in set(tokens).difference(cache):
                cache[token] = self._candidates(token)
            found = list(map(cache.__getitem__, tokens))
        return cast(list[dict[int, int]], found)  # no None left: every token is cached

    # -- matching ---------------------------------------------------------------
    def match(self, article: Article) -> list[Hit]:
        """Every topic the article matches, with the term, score and snippet."""
        scanned = []  # (field, text, tokens, candidates, offset) of fields with candidates
        present: set[int] = set()
        offset = 0
        for name, text in zip(
            FIELDS, (article.title, article.summary, article.content), strict=True
        ):
            if not text:
                continue
            tokens = TOKEN_RE.findall(text)
            candidates = self._token_candidates(tokens)
            if any(candidates):
                scanned.append((name, text, tokens, candidates, offset))
                present.update(*filter(None, candidates))
            offset += len(candidates)
        woken = set().union(*map(self._triggers.get, present, repeat(())))
        possible = [t for t in sorted(woken) if self.topics[t].possible(present)]
        if not possible:
            return []
        patterns = [p for t in possible for p in all_patterns(self.topics[t])]
        sentences = any(self.topics[t].needs_sentences for t in possible)
        occurrences = [occ for field in scanned for occ in self._find(*field, patterns, sentences)]
        texts = {
            name: text
            for name, text in zip(
                FIELDS, (article.title, article.summary, article.content), strict=True
            )
            if text
        }
        return decide(self.topics, article.id, occurrences, texts)

    def occurrences(self, article: Article, topic: CompiledTopic) -> list[Occurrence]:
        """Every occurrence of one topic's patterns in the article, possible or not: what
        `monitor watchlists explain` reads to say why a topic did not match."""
        patterns = all_patterns(topic)
        found: list[Occurrence] = []
        offset = 0
        for name, text in zip(
            FIELDS, (article.title, article.summary, article.content), strict=True
        ):
            tokens = TOKEN_RE.findall(text or "")
            candidates = self._token_candidates(tokens)
            found += self._find(name, text, tokens, candidates, offset, patterns, True)
            offset += len(candidates)
        return found

    def _find(
        self,
        field: str,
        text: str,
        tokens: list[str],
        candidates: list[dict[int, int]],
        offset: int,
        patterns: list[Pattern],
        sentences: bool = False,
    ) -> Iterator[Occurrence]:
        """Where each pattern occurs in one field, with its typos, character span and (when a
        rule needs it) sentence."""
        positions: dict[int, list[int]] = {}
        for position, found in enumerate(candidates):
            for wid in found:
                positions.setdefault(wid, []).append(position)
        starts = _Starts(text, tokens)
        field_number = FIELDS.index(field)
        boundaries = sentence_ends(text) if sentences else []
        for pattern in patterns:
            for position in positions.get(pattern.words[0], ()):
                typos = _match_at(pattern, position, candidates)
                if typos is not None:
                    last = position + len(pattern.words) - 1
                    start, end = starts[position], starts[last] + len(tokens[last])
                    sentence = _sentence_id(field_number, bisect(boundaries, start))
                    yield Occurrence(pattern, field, offset + position, start, end, typos, sentence)


def _sentence_id(field_number: int, sentence_in_field: int) -> int:
    """Which sentence a rule with `window = "sentence"` sees a term in. The headline and the
    first sentence of the summary are one: a lede says what the headline is about ("Salazar:
    the Bicentennial works" + "The ambassador said the security accord ..."), and a wire
    headline is often cut in two by a colon or a question mark. Later sentences, and the
    content, are each their own."""
    if field_number == 0 or (field_number == 1 and sentence_in_field == 0):
        return 0
    return field_number * SENTENCES_PER_FIELD + sentence_in_field


class _Starts:
    """Character offsets of a text's tokens, found only as far as they are asked for.

    `text.find(token, after the previous token)` is exact: the next token starts at
    the first word character after the previous one, and nothing before it can
    match a token (tokens start with a word character, gaps have none).
    """

    def __init__(self, text: str, tokens: list[str]) -> None:
        self.text, self.tokens = text, tokens
        self.offsets: list[int] = []

    def __getitem__(self, position: int) -> int:
        offsets, tokens = self.offsets, self.tokens
        while len(offsets) <= position:
            after = offsets[-1] + len(tokens[len(offsets) - 1]) if offsets else 0
            offsets.append(self.text.find(tokens[len(offsets)], after))
        return offsets[position]


def _match_at(pattern: Pattern, position: int, candidates: list[dict[int, int]]) -> int | None:
    """Total typos if `pattern` matches the tokens starting at `position`, else None."""
    if position + len(pattern.words) > len(candidates):
        return None
    total = 0
    for i, wid in enumerate(pattern.words):
        typos = candidates[position + i].get(wid)
        if typos is None or typos > pattern.max_typos[i]:
            return None
        total += typos
    return total
