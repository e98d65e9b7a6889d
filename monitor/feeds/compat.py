"""Our adaptations of feedparser and httpx, in one place, applied once by `install()`.

Each one reaches into a library's internals, so a library update can undo it
silently; `tests/test_compat.py` fails when one stops taking effect.

- feedparser's `replace_doctype` hook: the DOCTYPE is dropped first and no
  entity declaration reaches the loose parser (the defence against entity
  expansion: 160 KB of feed once cost 45 s and 5.7 GB; see parse.py);
- feedparser's XML parser: always expat, whose entity handling the tests pin
  down (libxml2's SAX driver would otherwise be tried, a failed import on
  every parse);
- feedparser's `copy.deepcopy(self.contentparams)`: a plain copy of what is a
  dictionary of strings (a tenth of the parse time of a 50-item feed);
- httpcore's `import sniffio` at every connection checkout: recorded as absent
  when it is not installed (a disk search, ~1 ms a request, otherwise).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from feedparser import api as feedparser_api
from feedparser import mixin as feedparser_mixin
from feedparser.util import FeedParserDict

from monitor.text.xmlsafe import drop_doctype

_original_replace_doctype = feedparser_api.replace_doctype


def replace_doctype_safely(data: bytes) -> tuple[str | None, bytes, dict]:
    """feedparser's own hook, run on its UTF-8 copy of the body (so UTF-16 feeds are covered
    too), with the DOCTYPE gone first and no entities handed to the loose parser."""
    data, doctype = drop_doctype(data)
    version, data, _entities = _original_replace_doctype(data)
    return ("rss091n" if b"netscape" in doctype.lower() else version), data, {}


class ContentParamsCopy:
    """Stands in for the `copy` module in feedparser's mixin, whose only use of it is
    `copy.deepcopy(self.contentparams)` for every title, summary and content stored.
    Those parameters are strings (type, language, base, src) and a flag, so a plain
    copy is the same dictionary. Anything else is still deep-copied."""

    @staticmethod
    def deepcopy(params: Any) -> Any:
        import copy

        if isinstance(params, FeedParserDict) and all(
            value is None or isinstance(value, str | bool | int) for value in params.values()
        ):
            return FeedParserDict(params)
        return copy.deepcopy(params)


def install() -> None:
    """Apply every adaptation; calling it again changes nothing."""
    feedparser_api.replace_doctype = replace_doctype_safely
    feedparser_api.PREFERRED_XML_PARSERS = []
    feedparser_mixin.copy = ContentParamsCopy  # a duck-typed stand-in for the copy module
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # None marks "not installed"


def installed() -> dict[str, bool]:
    """Which adaptations are in place, by name (for the tests and bug reports)."""
    return {
        "doctype": feedparser_api.replace_doctype is replace_doctype_safely,
        "expat": feedparser_api.PREFERRED_XML_PARSERS == [],
        "contentparams": feedparser_mixin.copy is ContentParamsCopy,
        "sniffio": "sniffio" in sys.modules or importlib.util.find_spec("sniffio") is not None,
    }
