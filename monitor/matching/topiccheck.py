"""Validation of one [[topics]] table, every problem reported at its key's line.

Kept apart from `watchlists.py` (which builds the records) so each stays
readable: this module knows the topic schema and what makes a term unusable
or noisy (`termcheck`), and reports through any sink with `error` and `warn`.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from monitor.core.errors import did_you_mean
from monitor.matching.termcheck import (
    fuzzy_note,
    repeated_terms,
    shown,
    term_noise,
    term_problem,
    vetoing_exclude,
)
from monitor.text.tomlmap import TableSpan

PRIORITIES = ("high", "normal")
DEFAULT_FUZZY = 90
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
TOPIC_KEYS = {
    "id",
    "title",
    "description",
    "priority",
    "terms",
    "all_of",
    "window",
    "exclude",
    "fuzzy",
    "rules",
}
RULE_KEYS = {"all_of", "window", "exclude"}
SENTENCE = "sentence"  # mirrors watchlists.SENTENCE (watchlists imports this module)


class ProblemSink(Protocol):
    def error(self, line: int, message: str) -> None: ...

    def warn(self, line: int, message: str) -> None: ...


class TopicCheck:
    """Validate one [[topics]] table; problems go to the file's lists at the key's line."""

    def __init__(
        self, file: ProblemSink, span: TableSpan, rule_spans: list[TableSpan] | None = None
    ) -> None:
        self.file = file
        self.span = span
        self.rule_spans = rule_spans or []
        self.ok = True
        self.label = "a topic without an id"  # until its id is known
        self.invalid: set[str] = set()  # keys already reported: no follow-on errors

    def bad(self, key: str, message: str) -> None:
        self.ok = False
        self.invalid.add(key)
        self.file.error(self.span.key_line(key), f"{self.label}: {message}")

    def warn(self, key: str, message: str) -> None:
        self.file.warn(self.span.key_line(key), f"{self.label}: {message}")

    def run(self, raw: Any) -> dict | None:
        if not isinstance(raw, dict):
            self.file.error(self.span.line, "each [[topics]] entry must be a table")
            return None
        topic_id = raw.get("id")
        if isinstance(topic_id, str):  # named as written, even when the id is invalid
            self.label = f"topic {topic_id!r}"
        if topic_id is None:
            self.bad("id", "id is missing (lower-case letters, digits, - or _)")
        elif not isinstance(topic_id, str) or not ID_RE.match(topic_id):
            self.bad("id", f"id {topic_id!r}: use lower-case letters, digits, - or _")
        for key in raw:
            if key not in TOPIC_KEYS:
                self.bad(
                    key,
                    f"unknown key {key!r}{did_you_mean(key, TOPIC_KEYS)} "
                    f"(allowed: {', '.join(sorted(TOPIC_KEYS))})",
                )
        for key in ("title", "description"):
            if key in raw and not isinstance(raw[key], str):
                self.bad(key, f"{key} must be a string")
        priority = raw.get("priority", "normal")
        if priority not in PRIORITIES:
            hint = did_you_mean(str(priority).lower(), PRIORITIES)
            self.bad("priority", f'priority must be "high" or "normal", not {priority!r}{hint}')
        terms = self._strings("terms", raw.get("terms", []))
        exclude = self._strings("exclude", raw.get("exclude", []))
        groups = self._groups(raw.get("all_of", []))
        rules = self._rules(raw.get("rules", []))
        if not (terms or groups or rules) and not {"terms", "all_of", "rules"} & self.invalid:
            self.bad("terms", "needs terms, all_of or [[topics.rules]], or it can never match")
        window = self._window(raw.get("window"), "all_of" in raw)
        fuzzy = self._fuzzy(raw.get("fuzzy", DEFAULT_FUZZY))
        self._check_terms(terms, exclude, groups)
        if not self.ok:
            return None

        return {
            "id": topic_id,
            "title": str(raw.get("title") or topic_id),
            "priority": priority,
            "terms": tuple(terms),
            "all_of": tuple(tuple(g) for g in groups),
            "window": window,
            "exclude": tuple(exclude),
            "fuzzy": fuzzy,
            "description": str(raw.get("description", "")),
            "rules": tuple(rules),  # dicts: watchlists.py makes them Rule records
        }

    def _rules(self, value: object) -> list[dict]:
        """[[topics.rules]] tables: each checked at its own header's line."""
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            self.bad("rules", "write each rule as a [[topics.rules]] table under its topic")
            return []
        rules = []
        for number, raw in enumerate(value, start=1):
            span = self.rule_spans[number - 1] if number <= len(self.rule_spans) else None
            rule = _RuleCheck(self, number, span).run(raw)
            if rule is not None:
                rules.append(rule)
        return rules

    def _strings(self, key: str, value: object) -> list[str]:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        example = f' = ["{value}"]' if isinstance(value, str) else ' = ["...", "..."]'
        self.bad(key, f"{key} must be a list of strings, e.g. {key}{example}")
        return []

    def _groups(self, value: object, minimum: int = 2) -> list[list[str]]:
        example = 'all_of = [["DEA", "agentes"], ["immunity", "inmunidad"]]'
        if not isinstance(value, list) or (value and all(isinstance(g, str) for g in value)):
            self.bad("all_of", f"all_of must be a list of groups, each a list of terms: {example}")
            return []
        groups = []
        for number, group in enumerate(value, start=1):
            if not isinstance(group, list) or not all(isinstance(t, str) for t in group):
                self.bad("all_of", f"all_of group {number} must be a list of strings: {example}")
            elif not group:
                self.bad("all_of", f"all_of group {number} is empty")
            else:
                groups.append(group)
        if 0 < len(value) < minimum:
            self.bad("all_of", "all_of needs at least two groups (one group is just terms)")
        return groups

    def _window(self, window: object, has_all_of: bool) -> int | str | None:
        if window is None or window == SENTENCE:
            if window and not has_all_of:
                self.warn("window", "window applies only to all_of, and this topic has none")
            return window
        if type(window) is not int or window < 1:
            self.bad(
                "window",
                f'window must be a whole number of words >= 1 or "sentence", not {window!r}',
            )
            return None
        if not has_all_of:
            self.warn("window", "window applies only to all_of, and this topic has none")
        return window

    def _fuzzy(self, fuzzy: object) -> int:
        if type(fuzzy) is not int or not 0 <= fuzzy <= 100:
            self.bad("fuzzy", f"fuzzy must be a whole number from 0 to 100, not {fuzzy!r}")
            return DEFAULT_FUZZY
        if note := fuzzy_note(fuzzy):
            self.warn("fuzzy", note)
        return fuzzy

    def _check_terms(self, terms: list[str], exclude: list[str], groups: list[list[str]]) -> None:
        members = [t for g in groups for t in g]
        for key, values in (("terms", terms), ("exclude", exclude), ("all_of", members)):
            for term in values:
                if problem := term_problem(term):
                    self.bad(key, f"{key} {shown(term)} {problem}")
                elif key == "exclude" and term_noise(term):
                    self.warn(key, f"exclude {term!r} is a common word: it vetoes most articles")
                elif key == "terms" and (noise := term_noise(term)):
                    self.warn(key, f"terms {term!r} {noise}")  # common words are fine in all_of
        for key, values in [("terms", terms), ("exclude", exclude)] + [
            ("all_of", g) for g in groups
        ]:
            for term, earlier in repeated_terms(values):
                again = "" if term == earlier else f" (as {earlier!r})"
                self.warn(key, f"{key} {term!r} is listed twice{again}")
        for key, values in (("terms", terms), ("all_of", members)):
            for term in values:
                if veto := vetoing_exclude(term, exclude):
                    self.warn(
                        key,
                        f"{key} {term!r} contains exclude {veto!r}: every article it finds is "
                        "vetoed, so it never matches (except misspelt)",
                    )


class _RuleCheck(TopicCheck):
    """One [[topics.rules]] table: its problems at its own lines, named "topic 'x' rule 2"."""

    def __init__(self, topic: TopicCheck, number: int, span: TableSpan | None) -> None:
        super().__init__(
            topic.file, span or TableSpan(topic.span.name, True, topic.span.key_line("rules"))
        )
        self.topic = topic
        self.label = f"{topic.label} rule {number}"

    def bad(self, key: str, message: str) -> None:
        super().bad(key, message)
        self.topic.ok = False

    def run(self, raw: Any) -> dict | None:  # _rules passes tables only
        for key in raw:
            if key not in RULE_KEYS:
                self.bad(
                    key,
                    f"unknown key {key!r}{did_you_mean(key, RULE_KEYS)} "
                    f"(a rule has: {', '.join(sorted(RULE_KEYS))})",
                )
        if "all_of" not in raw:
            self.bad("all_of", "a rule needs all_of: one or more groups of terms")
            return None
        groups = self._groups(raw["all_of"], minimum=1)
        if not groups and "all_of" not in self.invalid:
            self.bad("all_of", "a rule needs all_of: one or more groups of terms")
        exclude = self._strings("exclude", raw.get("exclude", []))
        window = self._window(raw.get("window"), True)
        self._check_terms([], exclude, groups)
        if not self.ok:
            return None
        return {
            "all_of": tuple(tuple(g) for g in groups),
            "window": window,
            "exclude": tuple(exclude),
            "line": self.span.line,
        }
