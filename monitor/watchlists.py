"""Watchlist TOML -> validated `Watchlist` records, every problem in one pass.

Problems are reported as `file:line: message` so an analyst can jump to the
line. tomllib gives no positions for keys, so lines are found by scanning the
source for the table header and the `key =` inside it.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import WatchlistError
from .textnorm import TOKEN_RE, fold, is_acronym

log = logging.getLogger(__name__)

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
}
WATCHLIST_KEYS = {"id", "title", "description"}
# Single words that appear in most news text in either language: as a whole
# term they would flood a topic.
NOISY_WORDS = {
    "the",
    "and",
    "of",
    "in",
    "on",
    "for",
    "to",
    "a",
    "an",
    "is",
    "us",
    "news",
    "mexico",
    "security",
    "government",
    "president",
    "police",
    "el",
    "la",
    "los",
    "las",
    "de",
    "del",
    "en",
    "y",
    "que",
    "un",
    "una",
    "por",
    "con",
    "mayo",
    "gobierno",
    "seguridad",
    "presidente",
    "presidenta",
    "méxico",
    "policia",
    "policía",
}


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    title: str
    priority: str = "normal"
    terms: tuple[str, ...] = ()
    all_of: tuple[tuple[str, ...], ...] = ()
    window: int | None = None
    exclude: tuple[str, ...] = ()
    fuzzy: int = DEFAULT_FUZZY
    description: str = ""
    line: int = 0


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
    seen_ids: dict[str, str] = {}
    for file in files:
        watchlist = _check_file(file, report)
        if watchlist is None:
            continue
        if watchlist.id in seen_ids:
            report.errors.append(
                f"{file}:1: watchlist id {watchlist.id!r} is already used by {seen_ids[watchlist.id]}"
            )
            continue
        seen_ids[watchlist.id] = str(file)
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


def _check_file(file: Path, report: CheckReport) -> Watchlist | None:
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        report.errors.append(f"{file}:1: cannot read: {exc}")
        return None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        report.errors.append(f"{file}:{line.group(1) if line else 1}: TOML syntax error: {exc}")
        return None
    lines = _LineFinder(source)
    errors_before = len(report.errors)

    def error(line: int, message: str) -> None:
        report.errors.append(f"{file}:{line}: {message}")

    for key in data:
        if key not in ("watchlist", "topics"):
            error(lines.key_line(key), f"unknown key {key!r} (expected [watchlist] and [[topics]])")
    header = data.get("watchlist")
    if not isinstance(header, dict):
        error(1, "missing [watchlist] table with an id")
        header = {}
    header_line = lines.table_line("[watchlist]")
    for key in header:
        if key not in WATCHLIST_KEYS:
            error(lines.key_line(key, header_line), f"[watchlist] {key}: unknown key")
    watchlist_id = header.get("id")
    if not isinstance(watchlist_id, str) or not ID_RE.match(watchlist_id):
        error(header_line, "[watchlist] id: required, lower-case letters, digits, - or _")
        watchlist_id = file.stem
    topics_raw = data.get("topics", [])
    if not isinstance(topics_raw, list) or not topics_raw:
        error(header_line, "no [[topics]]: a watchlist needs at least one topic")
        topics_raw = []
    topic_lines = lines.table_lines("[[topics]]")
    topics: list[Topic] = []
    seen: set[str] = set()
    for index, raw in enumerate(topics_raw):
        start = topic_lines[index] if index < len(topic_lines) else 1
        topic = _check_topic(raw, start, lines, error, report.warnings, file)
        if topic is None:
            continue
        if topic.id in seen:
            error(start, f"duplicate topic id {topic.id!r}")
            continue
        seen.add(topic.id)
        topics.append(topic)
    if len(report.errors) > errors_before:
        return None
    return Watchlist(
        id=watchlist_id,
        title=str(header.get("title") or watchlist_id),
        topics=tuple(topics),
        path=str(file),
        description=str(header.get("description", "")),
    )


def _check_topic(raw, start, lines, error, warnings, file) -> Topic | None:
    if not isinstance(raw, dict):
        error(start, "each [[topics]] entry must be a table")
        return None
    ok = True

    def bad(key: str, message: str) -> None:
        nonlocal ok
        ok = False
        error(lines.key_line(key, start), message)

    for key in raw:
        if key not in TOPIC_KEYS:
            bad(
                key,
                f"topic {raw.get('id', '?')!r}: unknown key {key!r} "
                f"(allowed: {', '.join(sorted(TOPIC_KEYS))})",
            )
    topic_id = raw.get("id")
    if not isinstance(topic_id, str) or not ID_RE.match(topic_id):
        bad("id", "topic id: required, lower-case letters, digits, - or _")
        topic_id = "?"
    label = f"topic {topic_id!r}"
    priority = raw.get("priority", "normal")
    if priority not in PRIORITIES:
        bad("priority", f'{label}: priority must be "high" or "normal", not {priority!r}')
    terms = _string_list(raw.get("terms", []))
    if terms is None:
        bad("terms", f"{label}: terms must be a list of strings")
        terms = []
    exclude = _string_list(raw.get("exclude", []))
    if exclude is None:
        bad("exclude", f"{label}: exclude must be a list of strings")
        exclude = []
    groups_raw = raw.get("all_of", [])
    groups: list[list[str]] = []
    if not isinstance(groups_raw, list) or any(_string_list(g) in (None, []) for g in groups_raw):
        bad("all_of", f"{label}: all_of must be a list of non-empty lists of strings")
    else:
        groups = [_string_list(g) or [] for g in groups_raw]
    if len(groups) == 1:
        bad("all_of", f"{label}: all_of needs at least two groups (one group is just terms)")
    if not terms and not groups:
        bad("terms", f"{label}: needs terms or all_of, or it can never match")
    window = raw.get("window")
    if window is not None and (type(window) is not int or window < 1):
        bad("window", f"{label}: window must be a whole number of words >= 1")
        window = None
    fuzzy = raw.get("fuzzy", DEFAULT_FUZZY)
    if type(fuzzy) is not int or not 0 <= fuzzy <= 100:
        bad("fuzzy", f"{label}: fuzzy must be a whole number from 0 to 100, not {fuzzy!r}")
        fuzzy = DEFAULT_FUZZY
    for key, values in (
        ("terms", terms),
        ("exclude", exclude),
        ("all_of", [t for g in groups for t in g]),
    ):
        for term in values:
            problem = term_problem(term)
            if problem:
                bad(key, f"{label}: {key} {term!r} {problem}")
            elif key != "all_of" and (
                noisy := term_noise(term)
            ):  # common words are fine in a group
                warnings.append(
                    f"{file}:{lines.key_line(key, start)}: {label}: {key} {term!r} {noisy}"
                )
    if not ok:
        return None
    return Topic(
        id=topic_id,
        title=str(raw.get("title") or topic_id),
        priority=priority,
        terms=tuple(terms),
        all_of=tuple(tuple(g) for g in groups),
        window=window,
        exclude=tuple(exclude),
        fuzzy=fuzzy,
        description=str(raw.get("description", "")),
        line=start,
    )


def _string_list(value) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def term_problem(term: str) -> str | None:
    """Why a term can never match, or None."""
    words = TOKEN_RE.findall(fold(term))
    if not term.strip():
        return "is empty"
    if not words:
        return "has no letters or digits, so it can never match"
    if len(words) == 1 and len(words[0].replace(".", "")) < 2:
        kind = "an acronym of one letter" if is_acronym(term.strip()) else "a single character"
        return f"is {kind}, which can never match as a whole word in news text"
    return None


def term_noise(term: str) -> str | None:
    """Why a term is likely to flood the topic, or None."""
    words = TOKEN_RE.findall(fold(term))
    if len(words) != 1:
        return None
    word = words[0]
    if word in NOISY_WORDS or fold(term.strip()) in NOISY_WORDS:
        return "is a common word on its own: expect many false alerts (use all_of or a phrase)"
    if len(word) <= 3 and not is_acronym(term.strip()):
        return "is a short lower-case word: expect false alerts (write acronyms in capitals)"
    return None


class _LineFinder:
    """Line numbers of TOML table headers and keys (tomllib does not report them)."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()

    def table_line(self, header: str) -> int:
        lines = self.table_lines(header)
        return lines[0] if lines else 1

    def table_lines(self, header: str) -> list[int]:
        return [i + 1 for i, line in enumerate(self.lines) if line.strip().startswith(header)]

    def key_line(self, key: str, start: int = 1) -> int:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for index in range(max(start - 1, 0), len(self.lines)):
            if index >= start and self.lines[index].strip().startswith("["):
                break
            if pattern.match(self.lines[index]):
                return index + 1
        return start
