"""Which topics an article's occurrences satisfy, and the hit each one makes.

The matcher (matcher.py) finds where each pattern occurs; this module decides,
per topic: a topic exclude anywhere vetoes it; else the best-scoring term wins
(exact before typo, then the earliest); else the first rule that holds: its
own excludes absent, every all_of group with an occurrence, and the tightest
set holding one of each inside the rule's window (a number of words, or one
sentence). A hit names the term (or "A + B" for a rule), the score (100 exact,
less with typos: 100 × letters / (letters + typos)) and a snippet of about
SNIPPET_WIDTH characters centred on the match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from monitor.core.models import Hit
from monitor.matching.watchlists import Topic
from monitor.text.textnorm import snippet_around

SNIPPET_WIDTH = 200
TERM, GROUP, EXCLUDE = "term", "group", "exclude"


def similarity(letters: int, typos: int) -> float:
    return round(100.0 * letters / (letters + typos), 1) if typos else 100.0


@dataclass(frozen=True, slots=True, eq=False)
class Pattern:
    """One term of one topic, as a sequence of word ids."""

    text: str
    topic: int  # index into Matcher.topics
    role: str  # TERM, GROUP or EXCLUDE
    group: int
    words: tuple[int, ...]
    max_typos: tuple[int, ...]
    letters: int
    rule: int = -1  # the rule of a GROUP or a rule's EXCLUDE; -1: the topic's own


@dataclass(frozen=True, slots=True)
class Occurrence:
    pattern: Pattern
    field: str
    position: int  # token index across all fields, for all_of windows
    start: int  # character span in the field text
    end: int
    typos: int
    sentence: int = 0  # sentence index across all fields (each field starts a new one)

    @property
    def score(self) -> float:
        return similarity(self.pattern.letters, self.typos)


@dataclass(slots=True)
class CompiledRule:
    groups: list[list[Pattern]]
    excludes: list[Pattern]
    window: int | None  # words; None: anywhere (or, with `sentence`, one sentence)
    sentence: bool = False

    def possible(self, present: set[int]) -> bool:
        return all(any(present.issuperset(p.words) for p in group) for group in self.groups)


@dataclass(slots=True)
class CompiledTopic:
    watchlist: str
    topic: Topic
    terms: list[Pattern]
    rules: list[CompiledRule]
    excludes: list[Pattern]

    def possible(self, present: set[int]) -> bool:
        """Could the topic match an article whose candidate words are `present`?"""
        if any(present.issuperset(p.words) for p in self.terms):
            return True
        return any(rule.possible(present) for rule in self.rules)

    @property
    def needs_sentences(self) -> bool:
        return any(rule.sentence for rule in self.rules)


def all_patterns(topic: CompiledTopic) -> list[Pattern]:
    rules = [p for r in topic.rules for p in (*(p for g in r.groups for p in g), *r.excludes)]
    return [*topic.terms, *rules, *topic.excludes]


def decide(
    topics: list[CompiledTopic],
    article_id: str,
    occurrences: list[Occurrence],
    texts: Mapping[str, str],
) -> list[Hit]:
    """The hits: per topic, no exclude found, then the best term or the tightest all_of."""
    by_topic: dict[int, list[Occurrence]] = {}
    for occ in occurrences:
        by_topic.setdefault(occ.pattern.topic, []).append(occ)
    hits = []
    for topic_index in sorted(by_topic):
        found = by_topic[topic_index]
        if any(o.pattern.role == EXCLUDE and o.pattern.rule < 0 for o in found):
            continue
        ref = topics[topic_index]
        hit = _term_hit(found) or _rule_hit(found, ref)
        if hit is None:
            continue
        term, score, first, last = hit
        hits.append(
            Hit(
                article_id=article_id,
                watchlist=ref.watchlist,
                topic=ref.topic.id,
                term=term,
                score=score,
                snippet=_snippet(first, last, found, texts),
                field=first.field,
                priority=ref.topic.priority,
            )
        )
    return hits


def _snippet(
    first: Occurrence, last: Occurrence, found: list[Occurrence], texts: Mapping[str, str]
) -> str:
    """The text around the match. A match in the title is shown as the title already, so
    its snippet comes from the summary: around the same term there if it recurs, else the
    summary's opening."""
    if first.field == "title" and texts.get("summary"):
        again = next(
            (o for o in found if o.field == "summary" and o.pattern is first.pattern), None
        )
        if again is not None:
            return snippet_around(texts["summary"], again.start, again.end, SNIPPET_WIDTH)
        return snippet_around(texts["summary"], 0, 0, SNIPPET_WIDTH)
    # an all_of span wider than the snippet is shown around its first member
    together = last.field == first.field and last.end - first.start <= SNIPPET_WIDTH
    end = last.end if together else first.end
    return snippet_around(texts[first.field], first.start, end, SNIPPET_WIDTH)


# a topic's decision: (term shown, score, first occurrence, last occurrence)
Decided = tuple[str, float, Occurrence, Occurrence]


def _term_hit(found: list[Occurrence]) -> Decided | None:
    terms = [o for o in found if o.pattern.role == TERM]
    if not terms:
        return None
    best = min(terms, key=lambda o: (-o.score, o.position))
    return best.pattern.text, best.score, best, best


def _rule_hit(found: list[Occurrence], topic: CompiledTopic) -> Decided | None:
    """The first rule that holds: (term, score, first, last) of its tightest occurrences."""
    for index, rule in enumerate(topic.rules):
        mine = [o for o in found if o.pattern.rule == index]
        if any(o.pattern.role == EXCLUDE for o in mine):
            continue
        # at one position an exact member goes before a typo one ("capture" vs "captura")
        members = sorted(
            (o for o in mine if o.pattern.role == GROUP), key=lambda o: (o.position, -o.score)
        )
        chosen = tightest(members, len(rule.groups), rule)
        if chosen is None:
            continue
        # one occurrence may fill several groups (a phrase listed in two): name it once
        shown = {
            (o.field, o.start, o.end): o for o in sorted(chosen, key=lambda o: -o.pattern.group)
        }
        term = " + ".join(
            o.pattern.text for o in sorted(shown.values(), key=lambda o: o.pattern.group)
        )
        return term, min(o.score for o in chosen), chosen[0], chosen[-1]
    return None


def tightest(members: list[Occurrence], groups: int, rule: CompiledRule) -> list[Occurrence] | None:
    """One occurrence per group, spanning the fewest words, within the rule's window."""
    if len({o.pattern.group for o in members}) < groups:
        return None
    if not rule.sentence:
        chosen = _smallest_window(members, groups)
        span = chosen[-1].position - chosen[0].position
        return None if rule.window is not None and span > rule.window else chosen
    best: list[Occurrence] | None = None
    by_sentence: dict[int, list[Occurrence]] = {}
    for occ in members:
        by_sentence.setdefault(occ.sentence, []).append(occ)
    for sentence in by_sentence.values():
        if len({o.pattern.group for o in sentence}) < groups:
            continue
        chosen = _smallest_window(sentence, groups)
        if best is None or _span(chosen) < _span(best):
            best = chosen
    return best


def _span(chosen: list[Occurrence]) -> int:
    return chosen[-1].position - chosen[0].position


def _smallest_window(members: list[Occurrence], groups: int) -> list[Occurrence]:
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
    picked: dict[int, Occurrence] = {}
    for occ in window:
        picked.setdefault(occ.pattern.group, occ)
    return sorted(picked.values(), key=lambda o: o.position)
