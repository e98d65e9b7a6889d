"""Why a labeled article was missed or falsely alerted: the tool for fixing a watchlist.

    labeled articles | Matcher.match | compare with the labels
        | per miss: the closest rule and why it did not fire | per false alarm: what fired

A labeled file is JSON lines, either `{"id","title","summary","labels":["watchlist/topic"]}`
or `{"id","title","summary","expect":["topic"]}` (the format of ../shared/eval/LABELING.md:
bare topic ids, and only the topics the file labels somewhere are scored, so a shipped
topic the file knows nothing about is not counted as a false alarm). Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from monitor.core.models import Article
from monitor.matching.matcher import Matcher
from monitor.matching.rules import (
    EXCLUDE,
    GROUP,
    TERM,
    CompiledRule,
    CompiledTopic,
    Occurrence,
    tightest,
)


@dataclass(slots=True)
class TopicScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(frozen=True, slots=True)
class Labeled:
    article: Article
    truth: frozenset[str]  # "watchlist/topic", or bare topic ids (`bare`)
    bare: bool


def read_labeled(lines: Iterable[str], source: str = "") -> list[Labeled]:
    """Labeled JSON lines -> records; a bad line raises ValueError naming `source:line`."""
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            bare = "expect" in row
            truth = frozenset(row["expect"] if bare else row["labels"])
            article = Article(
                id=str(row["id"]),
                feed_url="",
                url="",
                title=row.get("title", ""),
                summary=row.get("summary", ""),
                content=row.get("content", ""),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{source}:{number}: not a labeled article ({exc})") from exc
        items.append(Labeled(article, truth, bare))
    return items


def predicted(matcher: Matcher, items: Sequence[Labeled]) -> dict[str, set[str]]:
    """Article id -> topics hit, in the labels' own vocabulary."""
    scored = {t for item in items if item.bare for t in item.truth}
    out = {}
    for item in items:
        hits = matcher.match(item.article)
        if item.bare:
            out[item.article.id] = {h.topic for h in hits if h.topic in scored}
        else:
            out[item.article.id] = {f"{h.watchlist}/{h.topic}" for h in hits}
    return out


def evaluate(items: Sequence[Labeled], got: dict[str, set[str]]) -> dict[str, TopicScore]:
    """Scores per topic; topics come from both labels and predictions."""
    scores: dict[str, TopicScore] = {}
    for item in items:
        article_id = item.article.id
        hits = got.get(article_id, set())
        for topic in item.truth | hits:
            score = scores.setdefault(topic, TopicScore())
            if topic in item.truth and topic in hits:
                score.tp += 1
            elif topic in hits:
                score.fp += 1
                score.false_positives.append(article_id)
            else:
                score.fn += 1
                score.false_negatives.append(article_id)
    return dict(sorted(scores.items()))


def overall(scores: dict[str, TopicScore]) -> TopicScore:
    total = TopicScore()
    for score in scores.values():
        total.tp += score.tp
        total.fp += score.fp
        total.fn += score.fn
    return total


# -- why -------------------------------------------------------------------------------------
def why_missed(matcher: Matcher, article: Article, topic: CompiledTopic) -> str:
    """The closest way the topic could have matched, and what it lacked."""
    found = matcher.occurrences(article, topic)
    vetoes = [o for o in found if o.pattern.role == EXCLUDE and o.pattern.rule < 0]
    if vetoes:
        return f"vetoed by the topic's exclude {vetoes[0].pattern.text!r}"
    notes = [
        (_closeness(rule, found, number), _rule_note(rule, found, number, topic))
        for number, rule in enumerate(topic.rules)
        if any(o.pattern.rule == number for o in found)
    ]
    if not notes:
        return "no term matched, and no rule found any of its words"
    return max(notes, key=lambda n: n[0])[1]


def why_hit(matcher: Matcher, article: Article, topic: CompiledTopic) -> str:
    hit = next(h for h in matcher.match(article) if h.topic == topic.topic.id)
    found = matcher.occurrences(article, topic)
    terms = [o for o in found if o.pattern.role == TERM and o.pattern.text == hit.term]
    if terms:
        return f"term {hit.term!r}: «{hit.snippet}»"
    rule = next(
        (n for n, r in enumerate(topic.rules) if tightest(_members(found, n), len(r.groups), r)),
        None,
    )
    where = f"rule {_rule_name(topic, rule)}" if rule is not None else "a rule"
    return f"{where} {hit.term!r}: «{hit.snippet}»"


def _members(found: list[Occurrence], rule: int) -> list[Occurrence]:
    return sorted(
        (o for o in found if o.pattern.role == GROUP and o.pattern.rule == rule),
        key=lambda o: (o.position, -o.score),
    )


def _closeness(rule: CompiledRule, found: list[Occurrence], number: int) -> tuple[int, int, int]:
    """Fewest groups missing, then most groups found, then not vetoed."""
    present = len({o.pattern.group for o in _members(found, number)})
    vetoed = bool(_rule_vetoes(found, number))
    return (present - len(rule.groups), present, -int(vetoed))


def _rule_vetoes(found: list[Occurrence], number: int) -> list[Occurrence]:
    return [o for o in found if o.pattern.role == EXCLUDE and o.pattern.rule == number]


def _rule_name(topic: CompiledTopic, number: int | None) -> str:
    if number is None:
        return "?"
    rule = topic.topic.all_rules[number]
    return f"{number + 1} (line {rule.line})" if rule.line else str(number + 1)


def _rule_note(
    rule: CompiledRule, found: list[Occurrence], number: int, topic: CompiledTopic
) -> str:
    name = f"rule {_rule_name(topic, number)}"
    vetoes = _rule_vetoes(found, number)
    if vetoes:
        return f"{name} vetoed by its exclude {vetoes[0].pattern.text!r}"
    members = _members(found, number)
    present = {o.pattern.group for o in members}
    missing = [g for g in range(len(rule.groups)) if g not in present]
    if missing:
        first = rule.groups[missing[0]]
        sample = ", ".join(p.text for p in first[:4]) + (", …" if len(first) > 4 else "")
        have = " + ".join(
            next(o.pattern.text for o in members if o.pattern.group == g) for g in sorted(present)
        )
        found_part = f" (found {have})" if have else ""
        return f"{name}: no term of group {missing[0] + 1} ({sample}){found_part}"
    if rule.sentence:
        return f"{name}: its groups are all there, but never in one sentence"
    span = _smallest_span(members, len(rule.groups))
    return f"{name}: its groups are {span} words apart, the window is {rule.window}"


def _smallest_span(members: list[Occurrence], groups: int) -> int:
    best = None
    for start, first in enumerate(members):
        seen: set[int] = set()
        for occ in members[start:]:
            seen.add(occ.pattern.group)
            if len(seen) == groups:
                span = occ.position - first.position
                best = span if best is None else min(best, span)
                break
    return best or 0


def explain(matcher: Matcher, items: Sequence[Labeled]) -> list[str]:
    """One line per miss and per false alarm, with its reason."""
    topics = {t.topic.id: t for t in matcher.topics}
    by_label = {f"{t.watchlist}/{t.topic.id}": t for t in matcher.topics}
    got = predicted(matcher, items)
    lines = []
    for item in items:
        hits = got.get(item.article.id, set())
        for label in sorted(item.truth - hits):
            topic = (topics if item.bare else by_label).get(label)
            reason = why_missed(matcher, item.article, topic) if topic else "no such topic"
            lines.append(f"MISSED {item.article.id} {label}: {item.article.title!r}\n    {reason}")
        for label in sorted(hits - item.truth):
            topic = (topics if item.bare else by_label)[label]
            reason = why_hit(matcher, item.article, topic)
            lines.append(
                f"FALSE ALARM {item.article.id} {label}: {item.article.title!r}\n    {reason}"
            )
    return lines


def score_table(scores: dict[str, TopicScore]) -> str:
    rows = [
        "| topic | TP | FP | FN | precision | recall |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for topic, s in [*scores.items(), ("**overall**", overall(scores))]:
        rows.append(f"| {topic} | {s.tp} | {s.fp} | {s.fn} | {s.precision:.2f} | {s.recall:.2f} |")
    return "\n".join(rows)
