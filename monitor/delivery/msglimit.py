"""Telegram's message limit, measured as Telegram measures it, and the cuts that keep to it.

Telegram refuses a message whose text is over 4,096 characters *after entity
parsing*, counted in UTF-16 code units: tags count nothing, `&amp;` counts
one, an astral emoji ("😀", most flags' halves) counts two. A title over
4,096 characters left its alert failed "Message is too long" (issue 12,
finding 9). So:
- renderers cut each field of an article (title, snippet, source, matched
  term) with `cut_text` *before* escaping it, so the markup stays whole;
- packers measure with `visible_length`, never with `len()` of the HTML;
- `clip_html` is the last guard before a send: whatever a renderer missed,
  it cuts the visible text and closes the tags that were open, so the HTML
  stays valid.
No Telegram import: this is plain text work, shared by every renderer.
"""

from __future__ import annotations

import unicodedata
from html.parser import HTMLParser

TELEGRAM_LIMIT = 4096  # UTF-16 code units of visible text, per message
CALLBACK_ANSWER_LIMIT = 200  # answerCallbackQuery's text
ELLIPSIS = "…"
ZWJ = 0x200D
# field caps (UTF-16 units): an alert with every field at its cap still fits, with room
TITLE_MAX = 500
SNIPPET_MAX = 700
TERM_MAX = 120
SOURCE_MAX = 300
TOPIC_MAX = 200
LINE_MAX = 600  # a line of a reply or notice made of operator or feed text


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters beyond U+FFFF count two."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def cut_text(text: str, limit: int) -> str:
    """Plain `text` within `limit` UTF-16 units, ending in "…" where it was cut."""
    if utf16_len(text) <= limit:
        return text
    room, kept = limit - utf16_len(ELLIPSIS), 0
    for index, ch in enumerate(text):
        kept += 2 if ord(ch) > 0xFFFF else 1
        if kept > room:
            return text[: grapheme_start(text, index)].rstrip() + ELLIPSIS
    return text  # pragma: no cover - the length check above returned already


def _joins_previous(ch: str) -> bool:
    """Characters that belong to the character before them: accents, variation selectors,
    skin tones, the zero-width joiner, and the tags of subdivision flags."""
    code = ord(ch)
    return bool(
        unicodedata.combining(ch)
        or code in (ZWJ, 0xFE0E, 0xFE0F)
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
        or 0xE0100 <= code <= 0xE01EF
    )


def grapheme_start(text: str, index: int) -> int:
    """`index`, moved back to the start of the user-perceived character it falls in, so a
    cut never leaves half a flag (🇲🇽 is two regional indicators), a family emoji without
    its last member (👩‍👧 is joined by U+200D), or an accent without its letter."""
    while index > 0 and (_joins_previous(text[index]) or ord(text[index - 1]) == ZWJ):
        index -= 1
    if _regional(text[index]):
        run = index
        while run > 0 and _regional(text[run - 1]):
            run -= 1
        index -= (index - run) % 2  # indicators pair up from the first: keep pairs whole
    return index


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


class _Clipper(HTMLParser):
    """Walks Telegram HTML (the subset our renderers write), counting visible units; once
    `limit` is reached it stops copying text and closes what is open."""

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=False)
        self.limit = limit
        self.room = limit - utf16_len(ELLIPSIS)  # kept free for the ellipsis if we cut
        self.used = 0
        self.out: list[str] = []
        self.open: list[str] = []
        self.cut = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.cut:
            self.out.append(self.get_starttag_text() or f"<{tag}>")
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.cut and self.open and self.open[-1] == tag:
            self.out.append(f"</{tag}>")
            self.open.pop()

    def handle_data(self, data: str) -> None:
        self._text(data, data)

    def handle_entityref(self, name: str) -> None:
        self._text(f"&{name};", "x")  # &amp; &lt; &gt; &quot;: one character each

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
            shown = chr(code) if 0 < code < 0x110000 else "x"
        except ValueError:
            shown = "x"
        self._text(f"&#{name};", shown)

    def _text(self, raw: str, shown: str) -> None:
        if self.cut:
            return
        size = utf16_len(shown)
        if self.used + size <= self.room:
            self.out.append(raw)
            self.used += size
            return
        if raw == shown:  # plain text: keep what fits of it
            self.out.append(cut_text(raw, self.room - self.used + 1)[:-1].rstrip())
        self.out.append(ELLIPSIS)
        self.used = self.limit
        self.cut = True

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))


class _Counter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.units = 0

    def handle_data(self, data: str) -> None:
        self.units += utf16_len(data)


def visible_length(html_text: str) -> int:
    """UTF-16 units of the text Telegram shows for this HTML (tags dropped, entities one)."""
    counter = _Counter()
    counter.feed(html_text)
    counter.close()
    return counter.units


def fits(html_text: str, limit: int = TELEGRAM_LIMIT) -> bool:
    return visible_length(html_text) <= limit


def join_fitting(lines: list[str], keep: int, limit: int = TELEGRAM_LIMIT) -> str:
    """`lines` joined by newlines; while that does not fit, the lines after the first `keep`
    go from the end (an alert drops snippets, never its link); then `clip_html`."""
    while len(lines) > keep and not fits("\n".join(lines), limit):
        lines = lines[:-1]
    return clip_html("\n".join(lines), limit)


def clip_html(html_text: str, limit: int = TELEGRAM_LIMIT) -> str:
    """`html_text` unchanged if it fits, else cut at `limit` visible units with "…" and every
    open tag closed: still valid Telegram HTML."""
    if fits(html_text, limit):
        return html_text
    clipper = _Clipper(limit)
    clipper.feed(html_text)
    return clipper.result()
