"""Markup -> plain text with a real HTML parser, never a regular expression.

`<div>Title</div>` becomes `Title`, while text that merely contains markup
characters, such as `AT&T <-> Pemex: 5 < 6 & 7 > 2`, comes through intact:
html.parser treats a `<` that does not open a tag as text.
"""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCK = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "td",
    "th",
    "table",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "pre",
    "hr",
    "dd",
    "dt",
}
_SKIP = {"script", "style", "noscript", "template", "iframe", "object", "svg", "head", "title"}


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, entities decoded, whitespace folded."""
    if "<" not in markup and "&" not in markup:
        return fold_space(markup)
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return fold_space("".join(collector.parts))


# Characters that are never text: C0 and C1 controls (NUL among them) and the bidi
# embeddings, overrides and isolates. A title with U+202E (right-to-left override)
# displays reversed and can disguise a link; NUL breaks terminals and some clients.
# Line breaks and tabs become spaces; marks such as U+200E/U+200F stay (real RTL text).
_NOT_TEXT = {
    **dict.fromkeys([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]),
    **dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)]),
    **dict.fromkeys(map(ord, "\t\n\r\f\v\x1c\x1d\x1e\x1f\x85"), " "),
}


def fold_space(text: str) -> str:
    """One line of text: whitespace runs folded to one space, control characters gone."""
    if not text.isprintable():  # fast path: most text has no control character at all
        text = text.translate(_NOT_TEXT)
    return " ".join(text.split())
