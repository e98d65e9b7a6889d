"""OPML subscription lists in and out, the format every feed reader exchanges.

Reading uses expat directly (the standard library's parser) and refuses any
DOCTYPE, entity declaration or external entity outright: an OPML file passed
around by mail must not be able to expand entities or reach for local files
(defusedxml's rules, without the dependency). Folders (nested outlines) are
flattened; a feed is any outline with an xmlUrl, titled by its `title` or
`text`. Writing produces OPML 2.0.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.parsers import expat

from monitor.core.errors import UserError


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    title: str | None
    lang: str | None
    line: int  # where in the file, for messages
    folder: str | None = None  # the enclosing outline's title


class _Refused(Exception):
    pass


def read_opml(data: bytes, source: str) -> list[OpmlFeed]:
    """Every outline with an xmlUrl; UserError `source:line: message` when not OPML."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    feeds: list[OpmlFeed] = []
    stack: list[str] = []
    folders: list[str | None] = []

    def refuse(*_args: object) -> int:  # expat's handler signature; it never returns
        raise _Refused("DTDs and entity declarations are not accepted in OPML")

    def start(name: str, attrs: dict[str, str]) -> None:
        if not stack and name != "opml":
            raise _Refused(f"not OPML: the root element is <{name}>, not <opml>")
        stack.append(name)
        if name != "outline":
            return
        attrs = {k.lower(): v for k, v in attrs.items()}
        title = (attrs.get("title") or attrs.get("text") or "").strip() or None
        url = (attrs.get("xmlurl") or "").strip()
        if url:
            lang = (attrs.get("language") or "").strip() or None
            feeds.append(OpmlFeed(url, title, lang, parser.CurrentLineNumber, _folder(folders)))
        folders.append(None if url else title)

    def end(name: str) -> None:
        stack.pop()
        if name == "outline":
            folders.pop()

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise UserError(f"{source}:{parser.CurrentLineNumber}: {exc}") from None
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code)
        raise UserError(f"{source}:{exc.lineno}: not well-formed XML: {message}") from None
    return feeds


def _folder(folders: list[str | None]) -> str | None:
    names = [f for f in folders if f]
    return " / ".join(names) or None


def write_opml(
    feeds: Iterable[tuple[str, str | None, str | None]], title: str, now: datetime
) -> str:
    """OPML 2.0 for (url, name, lang) triples."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    body = ET.SubElement(root, "body")
    for url, name, lang in feeds:
        attrs = {"type": "rss", "text": name or url, "title": name or url, "xmlUrl": url}
        if lang:
            attrs["language"] = lang
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
