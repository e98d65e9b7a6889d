"""Watchlist TOML -> validated `Watchlist` records, every problem in one pass.

Problems are reported as `file:line: message` so an analyst can jump to the
line; `monitor watchlists check` prints them all at once. tomllib gives no
positions, so `tomlmap.SourceMap` finds the line of each table and key (the
key's own line even when its value spans several); `topiccheck` validates
each [[topics]] table and `termcheck` says what is wrong with a term.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from monitor.core.errors import WatchlistError
from monitor.matching.termcheck import NOISY_WORDS, term_noise, term_problem  # noqa: F401 - re-exported
from monitor.matching.topiccheck import (  # noqa: F401 - the schema constants are re-exported
    DEFAULT_FUZZY,
    ID_RE,
    PRIORITIES,
    TOPIC_KEYS,
    TopicCheck,
    did_you_mean,
)
from monitor.text.tomlmap import SourceMap, TableSpan

log = logging.getLogger(__name__)

WATCHLIST_KEYS = {"id", "title", "description"}


SENTENCE = "sentence"  # a rule's window: every group in one sentence


@dataclass(frozen=True, slots=True)
class Rule:
    """One way a topic matches without a term: a term from every group, close together.

    `window` is a number of words, SENTENCE, or None (anywhere in the article). The
    rule's own `exclude` vetoes this rule only; the topic's vetoes the whole topic.
    """

    all_of: tuple[tuple[str, ...], ...]
    window: int | str | None = None
    exclude: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    title: str
    priority: str = "normal"
    terms: tuple[str, ...] = ()
    all_of: tuple[tuple[str, ...], ...] = ()
    window: int | str | None = None
    exclude: tuple[str, ...] = ()
    fuzzy: int = DEFAULT_FUZZY
    description: str = ""
    line: int = 0
    rules: tuple[Rule, ...] = ()

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        """The topic's own all_of (the first rule, where it has one), then [[topics.rules]]."""
        own = (Rule(self.all_of, self.window, (), self.line),) if self.all_of else ()
        return own + self.rules


@dataclass(frozen=True, slots=True)
class Watchlist:
    id: str
    title: str
    topics: tuple[Topic, ...]
    path: str = ""
    description: str = ""

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)


@dataclass(slots=True)
class CheckReport:
    """The outcome of validating watchlist files: records plus problems and warnings."""

    watchlists: list[Watchlist] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def watchlist_files(path: Path) -> list[Path]:
    """`path` itself when it is a file, else every *.toml in the folder, sorted."""
    if path.is_dir():
        return sorted(p for p in path.glob("*.toml") if p.is_file())
    return [path]


def check_watchlists(path: Path) -> CheckReport:
    """Validate every watchlist under `path`; never raises for bad content."""
    report = CheckReport()
    if not path.exists():
        report.errors.append(f"{path}: no such file or folder")
        return report
    files = watchlist_files(path)
    if not files:
        report.errors.append(f"{path}: no *.toml watchlist files here")
    first_use: dict[str, str] = {}  # watchlist id -> file:line that declared it first
    for file in files:
        check = _FileCheck(file)
        watchlist = check.run()
        if check.watchlist_id in first_use:
            check.error(
                check.id_line,
                f"watchlist id {check.watchlist_id!r} is already used by "
                f"{first_use[check.watchlist_id]}",
            )
        elif check.watchlist_id:
            first_use[check.watchlist_id] = f"{file}:{check.id_line}"
        report.errors.extend(check.formatted(check.errors))
        report.warnings.extend(check.formatted(check.warnings))
        if watchlist is not None and not check.errors:
            report.watchlists.append(watchlist)
    return report


def load_watchlists(path: Path) -> list[Watchlist]:
    """Load and validate, raising `WatchlistError` with every problem found."""
    report = check_watchlists(path)
    for warning in report.warnings:
        log.warning("watchlist warning: %s", warning)
    if not report.ok:
        raise WatchlistError(report.errors, hint="run `monitor watchlists check` after fixing")
    return report.watchlists


# Messages for tomllib's syntax errors that an analyst can act on.
_SYNTAX_HINTS = {
    "Cannot overwrite a value": "a key is set twice in the same table",
    "Cannot declare": "a table is declared twice",
    "Unclosed array": "a list has a missing comma or closing ]",
    "Unclosed inline table": "an inline table is never closed (missing })",
    "Unterminated string": "a string is never closed (missing quote)",
    "Illegal character '\\n'": "a string is not closed on this line (missing quote)",
    "Invalid value": "invalid value (text needs quotes, lists need [ ])",
}
_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)")


class _FileCheck:
    """Validate one watchlist file, collecting every problem as (line, message)."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.errors: list[tuple[int, str]] = []
        self.warnings: list[tuple[int, str]] = []
        self.watchlist_id: str | None = None
        self.id_line = 1
        self.map = SourceMap("")

    def error(self, line: int, message: str) -> None:
        self.errors.append((line, message))

    def warn(self, line: int, message: str) -> None:
        self.warnings.append((line, message))

    def formatted(self, problems: list[tuple[int, str]]) -> list[str]:
        return [f"{self.file}:{line}: {message}" for line, message in sorted(problems)]

    def run(self) -> Watchlist | None:
        try:
            raw = self.file.read_bytes()
        except OSError as exc:
            self.error(1, f"cannot read: {exc.strerror}")
            return None
        try:
            source = raw.decode("utf-8-sig")  # Notepad writes a BOM
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            self.error(
                line,
                f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {column} "
                "(save the file as UTF-8)",
            )
            return None
        self.map = SourceMap(source)
        try:
            data = tomllib.loads(source)
        except tomllib.TOMLDecodeError as exc:
            self._syntax_error(str(exc))
            return None
        for key in data:
            if key not in ("watchlist", "topics"):
                self.error(
                    self.map.top_level_line(key),
                    f"unknown key {key!r}{did_you_mean(key, ['watchlist', 'topics'])}"
                    " (a watchlist file has a [watchlist] table and [[topics]] tables)",
                )
        header = self._check_header(data.get("watchlist"))
        topics = self._check_topics(data.get("topics"))
        if self.errors:
            return None
        return Watchlist(
            id=self.watchlist_id or self.file.stem,
            title=str(header.get("title") or self.watchlist_id),
            topics=tuple(topics),
            path=str(self.file),
            description=str(header.get("description", "")),
        )

    def _syntax_error(self, message: str) -> None:
        position = _TOML_POSITION.search(message)
        hint = next((h for k, h in _SYNTAX_HINTS.items() if message.startswith(k)), None)
        line, column = self.map.last_line, ""
        if position and position.group(1):
            line, column = int(position.group(1)), f" (column {position.group(2)})"
            opened = self.map.opening_line(line)
            if message.startswith(("Unclosed array", "Unclosed inline table")) and opened:
                # tomllib notices at the first line after the list; the analyst needs where
                # the list began
                line, column = opened, ""
        elif self.map.unclosed_line:  # "at end of document": point at what was left open
            line = self.map.unclosed_line
            hint = "a list, table or string starts here and is never closed"
        self.error(line, f"TOML syntax error{column}: {hint or _TOML_POSITION.sub('', message)}")

    def _check_header(self, header: object) -> dict:
        line = self.map.top_level_line("watchlist")
        span = self.map.table("watchlist") or TableSpan(("watchlist",), False, line)
        if not isinstance(header, dict):
            self.error(line, "missing [watchlist] table with an id and a title")
            return {}
        for key in header:
            if key not in WATCHLIST_KEYS:
                self.error(
                    span.key_line(key),
                    f"[watchlist] unknown key {key!r}{did_you_mean(key, WATCHLIST_KEYS)} "
                    f"(allowed: {', '.join(sorted(WATCHLIST_KEYS))})",
                )
        for key in ("title", "description"):
            if key in header and not isinstance(header[key], str):
                self.error(span.key_line(key), f"[watchlist] {key} must be a string")
        self.id_line = span.key_line("id")
        watchlist_id = header.get("id")
        if watchlist_id is None:
            self.error(span.line, "[watchlist] id is missing (lower-case letters, digits, - or _)")
        elif not isinstance(watchlist_id, str) or not ID_RE.match(watchlist_id):
            self.error(
                self.id_line,
                f"[watchlist] id {watchlist_id!r}: use lower-case letters, digits, - or _",
            )
        else:
            self.watchlist_id = watchlist_id
        return header

    def _check_topics(self, raw: object) -> list[Topic]:
        spans = self.map.array_tables("topics")
        if isinstance(raw, dict):
            line = self.map.top_level_line("topics")
            self.error(line, "write [[topics]] (double brackets, once per topic), not [topics]")
            return []
        if not isinstance(raw, list) or not raw:
            header = self.map.table("watchlist")
            self.error(
                header.line if header else 1, "no [[topics]]: a watchlist needs at least one"
            )
            return []
        fallback = TableSpan(("topics",), True, self.map.top_level_line("topics"))
        rule_spans = self.map.array_tables("topics", "rules")
        topics: list[Topic] = []
        first_line: dict[str, int] = {}
        for index, entry in enumerate(raw):
            span = spans[index] if index < len(spans) else fallback
            end = spans[index + 1].line if index + 1 < len(spans) else self.map.last_line + 1
            own_rules = [r for r in rule_spans if span.line < r.line < end]
            fields = TopicCheck(self, span, own_rules).run(entry)
            topic = None
            if fields is not None:
                rules = tuple(Rule(**rule) for rule in fields.pop("rules"))
                topic = Topic(**fields, rules=rules, line=span.line)
            topic_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(topic_id, str) and topic_id in first_line:
                self.error(
                    span.key_line("id"),
                    f"duplicate topic id {topic_id!r} (first used at line {first_line[topic_id]})",
                )
            elif isinstance(topic_id, str):
                first_line[topic_id] = span.key_line("id")
            if topic is not None:
                topics.append(topic)
        return topics
