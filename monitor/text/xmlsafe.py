"""Byte-level XML hygiene before any parser sees a body (pure, no I/O).

A DOCTYPE's internal subset is where entity bombs live (billion laughs, the
quadratic blowup) and where external entities are declared. Feeds never
need one, so parse.py drops the whole declaration before feedparser runs.
"""

from __future__ import annotations

import re

_DOCTYPE_START = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ROOT_START = re.compile(rb"<[A-Za-z_]")
_DECLARATION_TOKEN = re.compile(rb"[\"'\[\]>]|<!--")


def drop_doctype(data: bytes) -> tuple[bytes, bytes]:
    """(data without its DOCTYPE declaration, the declaration); internal subset included.

    Scans quotes, comments and brackets, so a `>` inside an entity value does
    not end the declaration early; regular expressions are used only to jump
    between tokens, so a 10 MB subset costs milliseconds.
    """
    root = _ROOT_START.search(data)
    start = _DOCTYPE_START.search(data, 0, root.start() if root else len(data))
    if start is None:
        return data, b""
    depth, pos = 0, start.end()
    while (token := _DECLARATION_TOKEN.search(data, pos)) is not None:
        char, pos = token.group(), token.end()
        if char in (b'"', b"'"):
            close = data.find(char, pos)
            pos = close + 1 if close >= 0 else len(data)
        elif char == b"<!--":
            close = data.find(b"-->", pos)
            pos = close + 3 if close >= 0 else len(data)
        elif char == b"[":
            depth += 1
        elif char == b"]":
            depth = max(depth - 1, 0)
        elif depth == 0:  # ">" outside the internal subset ends the declaration
            return data[: start.start()] + data[pos:], data[start.start() : pos]
    return data[: start.start()], data[start.start() :]  # unterminated: nothing after it is XML
