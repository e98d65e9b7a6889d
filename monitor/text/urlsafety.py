"""Links we may hand to a reader: absolute http(s) URLs only.

A feed writes its own links, and a link is a command to the reader's browser
or Telegram client: `javascript:` (in any case, after spaces or control
characters, with a tab inside: browsers strip all of those), `data:`,
`file:`, `tg:` and the rest would run or open something when clicked (issue
12, finding 5). So an allowlist, not a blocklist: `safe_http_url` returns the
link only when it is http(s) with a host, as a browser would read it, and
None otherwise; the caller then shows the title without a link.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# what browsers strip from both ends of a link (WHATWG URL: C0 controls and space)
_ENDS = "".join(map(chr, range(0x21)))


def safe_http_url(url: str) -> str | None:
    """`url` stripped at its ends if it is an absolute http(s) URL, else None."""
    candidate = url.strip(_ENDS)
    # a browser drops tabs and newlines anywhere, so "java\tscript:" is javascript:;
    # no real link holds a control character, so any of them disqualifies it
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
        return None
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
    except ValueError:  # a malformed IPv6 host, for one
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return candidate
