"""Where each table and key of a TOML source sits, for `file:line: message` reports.

tomllib parses without positions, so this scans the source once, the way a
TOML reader does at the top level: it follows strings (basic, literal and
multi-line) and brackets, so a key is found on the line where it is written
even when its value spans many lines, and a line like `    ["Salazar"],`
inside a multi-line `all_of` is not mistaken for a table header. It does not
validate anything; tomllib does that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_BARE_KEY = r"[A-Za-z0-9_-]+"
_KEY_PART = rf"(?:{_BARE_KEY}|\"(?:[^\"\\]|\\.)*\"|'[^']*')"
_KEY_RE = re.compile(rf"\s*({_KEY_PART})\s*(?:\.\s*{_KEY_PART}\s*)*=")
_HEADER_RE = re.compile(r"\s*(\[\[?)\s*([^\]]*?)\s*(\]\]?)")


@dataclass(slots=True)
class TableSpan:
    """One table header (or the root table) and the lines of the keys written under it."""

    name: tuple[str, ...]
    array: bool
    line: int
    keys: dict[str, int] = field(default_factory=dict)

    def key_line(self, key: str) -> int:
        """The line of `key =` in this table, else the header's line."""
        return self.keys.get(key, self.line)


class SourceMap:
    """Tables in source order; `tables[0]` is the root (keys before any header)."""

    def __init__(self, source: str) -> None:
        self.tables: list[TableSpan] = [TableSpan((), False, 1)]
        self.unclosed_line: int | None = None  # where an unterminated array/string began
        self.open_at: dict[int, int] = {}  # line -> where the value still open after it began
        self.last_line = max(source.count("\n") + (0 if source.endswith("\n") else 1), 1)
        self._scan(source)

    # -- queries -----------------------------------------------------------------
    def table(self, *name: str) -> TableSpan | None:
        return next((t for t in self.tables if t.name == name), None)

    def array_tables(self, *name: str) -> list[TableSpan]:
        return [t for t in self.tables if t.name == name and t.array]

    def opening_line(self, line: int) -> int | None:
        """Where the value that is still open when `line` starts was opened, if one is."""
        return self.open_at.get(line - 1)

    def top_level_line(self, key: str) -> int:
        """Line of a top-level key or of the first header that starts with it."""
        root = self.tables[0]
        if key in root.keys:
            return root.keys[key]
        return next((t.line for t in self.tables[1:] if t.name[:1] == (key,)), 1)

    # -- scanning ------------------------------------------------------------------
    def _scan(self, source: str) -> None:
        depth = 0  # open [ and { of the current value
        string: str | None = None  # the delimiter of an open multi-line string
        opened_at = 0
        current = self.tables[0]
        for number, line in enumerate(source.splitlines(), start=1):
            pos = 0
            if string is None and depth == 0:
                header = _HEADER_RE.match(line)
                if header and line.lstrip()[:1] == "[":
                    current = TableSpan(
                        _split_key(header.group(2)), header.group(1) == "[[", number
                    )
                    self.tables.append(current)
                    continue
                key = _KEY_RE.match(line)
                if key:
                    current.keys.setdefault(_unquote(key.group(1)), number)
                    pos = key.end()
            if string is None and depth == 0:
                opened_at = number
            depth, string = _scan_value(line, pos, depth, string)
            if depth > 0 or string is not None:
                self.open_at[number] = opened_at
        if depth > 0 or string is not None:
            self.unclosed_line = opened_at


def _scan_value(line: str, pos: int, depth: int, string: str | None) -> tuple[int, str | None]:
    """Follow one line of a value; return the bracket depth and open multi-line string."""
    n = len(line)
    while pos < n:
        if string is not None:  # inside a multi-line string: look for its end
            end = _find_closing(line, pos, string)
            if end < 0:
                return depth, string
            pos, string = end + len(string), None
            continue
        char = line[pos]
        if char == "#":
            break
        if char in "\"'":
            if line.startswith(char * 3, pos):
                string, pos = char * 3, pos + 3
                continue
            end = _find_closing(line, pos + 1, char)
            pos = n if end < 0 else end + 1
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(depth - 1, 0)
        pos += 1
    return depth, string


def _find_closing(line: str, pos: int, delimiter: str) -> int:
    """Index of the closing delimiter at or after `pos`, honouring backslashes in basic strings."""
    escapes = delimiter[0] == '"'
    while pos < len(line):
        if escapes and line[pos] == "\\":
            pos += 2
            continue
        if line.startswith(delimiter, pos):
            return pos
        pos += 1
    return -1


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(_KEY_PART, text)
    return tuple(_unquote(p) for p in parts)


def _unquote(part: str) -> str:
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
        return part[1:-1]
    return part
