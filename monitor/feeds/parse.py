"""Raw feed bytes -> `ParsedFeed` of clean `Article`s (feedparser lives here only).

- title and summary are plain text: markup removed by a real HTML parser,
  entities decoded, whitespace folded;
- the link is canonical: tracking parameters dropped, host lower-cased, no
  fragment, so the same story shared with different utm tags is one article;
- the id is stable across polls: the entry's guid (scoped by feed) or, for
  feeds without guids (uolNoticias.rss, iconv.xml in the corpus), the link;
- times are UTC; entries without a date get the time they were first seen.
- aggregator links and titles are unwrapped (aggregators.py): a Google News
  item "Headline - Reuters" becomes "Headline" from source "Reuters";
- a DOCTYPE is dropped before parsing, internal subset and all. feedparser
  keeps "safe" entity declarations and its loose parser expands them, so a
  160 KB feed declaring one 100 KB entity and using it 20,000 times cost
  45 s of CPU and 5.7 GB of memory (a 2 GB title). Without the DOCTYPE,
  `&name;` of an undeclared entity stays text. See test_parse_safety.py.
A feed that yields entries despite being malformed keeps them with a warning;
one that yields none is an error for that feed only. A response cut off at
max_bytes keeps the entries before the cut, with a warning.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
from feedparser.util import FeedParserDict

from monitor.core.models import Article, FetchResult, FieldLimits, ParsedFeed
from monitor.feeds import compat
from monitor.text.aggregators import (
    is_aggregator_link,
    last_segment,
    strip_outlet_suffix,
    unwrap_link,
)
from monitor.text.htmltext import fold_space, html_to_text

log = logging.getLogger(__name__)

DEFAULT_LIMITS = FieldLimits()
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "ocid",
    "cmpid",
    "smid",
    "smtyp",
    "ref_src",
    "igshid",
    "_ga",
    "yclid",
    "at_medium",
    "at_campaign",
    "ncid",
    "taid",
    "cid",
}
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_")


def article_id_for(feed_url: str, guid: str | None, canonical_url: str) -> str:
    """A stable id: the guid when the feed has one (scoped by feed), else the canonical URL."""
    basis = f"guid:{feed_url}\n{guid}" if guid else f"url:{canonical_url}"
    return hashlib.sha256(basis.encode()).hexdigest()[:24]


def canonical_url(url: str) -> str:
    """The link without tracking parameters, fragment, default port or host case."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower()
    if parts.port and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{parts.port}"
    query = parts.query and urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
        ]
    )
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", query, ""))


compat.install()  # our feedparser adaptations, the DOCTYPE defence among them


def parse_feed(
    result: FetchResult,
    now: datetime,
    source_name: str | None = None,
    limits: FieldLimits = DEFAULT_LIMITS,
) -> ParsedFeed:
    """Parse a fetched body into articles; never raises for bad content."""
    feed_url = result.feed.url
    body = result.body
    if not body.strip():
        return ParsedFeed(feed_url, None, (), error="empty response: the server sent no feed")
    try:
        parsed = _parse(body, result.content_type)
    except Exception as exc:  # feedparser is defensive, but a parser bug must not end the cycle
        log.exception("feedparser crashed feed=%s", feed_url)
        return ParsedFeed(
            feed_url, None, (), error=f"parser failed: {exc.__class__.__name__}: {exc}"
        )
    channel_title = fold_space(parsed["feed"].get("title", "")) or None
    source = source_name or channel_title or urlsplit(feed_url).netloc or feed_url
    lang = result.feed.lang or parsed["feed"].get("language")
    entries = parsed["entries"]
    articles, skipped = _articles(entries, feed_url, source, lang, channel_title, limits)
    if skipped:
        log.info("skipped entries with neither title nor link feed=%s count=%d", feed_url, skipped)
    problem = _bozo_message(parsed, body, result.content_type)
    if result.truncated:
        problem = f"response cut off at max_bytes ({len(body):,} bytes)" + (
            f"; {problem}" if problem else ""
        )
    if not entries:
        if problem:
            return ParsedFeed(feed_url, channel_title, (), error=problem)
        if not parsed.get("version") and not channel_title:
            return ParsedFeed(feed_url, None, (), error="not a feed: no RSS or Atom found")
    warning = None
    if problem:
        warning = f"malformed feed, kept {len(articles)} entries: {problem}"
    elif skipped:
        warning = f"skipped {skipped} of {len(entries)} entries: neither title nor link"
    return ParsedFeed(feed_url, channel_title, tuple(articles), warning=warning, skipped=skipped)


def _parse(body: bytes, content_type: str | None) -> FeedParserDict:
    # Markup is reduced to plain text by htmltext.py (which drops script and style), so
    # feedparser's HTML sanitiser and URI resolution would only double the parse time.
    headers = {"content-type": content_type} if content_type else {}
    return feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


def _articles(
    entries: list[FeedParserDict],
    feed_url: str,
    source: str,
    lang: str | None,
    channel_title: str | None,
    limits: FieldLimits,
) -> tuple[list[Article], int]:
    """Entries -> unique articles; an entry that cannot be read is skipped, never fatal."""
    articles: list[Article] = []
    skipped = 0
    seen_ids: set[str] = set()
    for entry in entries:
        try:
            article = _article(entry, feed_url, source, lang, channel_title, limits)
        except Exception:  # one odd entry must not cost the feed's other entries
            log.exception("entry skipped feed=%s", feed_url)
            article = None
        if article is None:
            skipped += 1
            continue
        if article.id in seen_ids:
            continue
        seen_ids.add(article.id)
        articles.append(article)
    return articles, skipped


def _bozo_message(parsed: FeedParserDict, body: bytes, content_type: str | None) -> str | None:
    if not parsed.get("bozo"):
        return None
    head = body[:512].lstrip().lower()
    if (content_type or "").startswith("text/html") or head.startswith(
        (b"<!doctype html", b"<html")
    ):
        return "not a feed: the server sent an HTML page"
    if head.startswith((b"{", b"[")) or "json" in (content_type or ""):
        return "not a feed: JSON (JSON Feed is not supported; use the site's RSS or Atom)"
    exc = parsed.get("bozo_exception")
    return f"malformed feed: {exc.__class__.__name__}: {exc}" if exc else "malformed feed"


def _article(
    entry: FeedParserDict,
    feed_url: str,
    source: str,
    lang: str | None,
    channel_title: str | None,
    limits: FieldLimits,
) -> Article | None:
    title = _cut(_text(entry, "title"), limits.title)
    link = unwrap_link((entry.get("feedburner_origlink") or entry.get("link") or "").strip())
    guid = (entry.get("id") or "").strip() or None
    if not title and not link:
        return None
    if not link and guid and guid.startswith(("http://", "https://")):
        link = guid
    title, source = _title_and_source(entry, title, link, source, channel_title)
    summary = _cut(_text(entry, "summary"), limits.summary)
    content = ""
    if entry.get("content"):
        content = " ".join(_clean(c.get("value", ""), c.get("type")) for c in entry["content"])
        content = _cut(content, limits.content)
        if content == summary:
            content = ""
    if not summary and content:
        summary = _cut(content, limits.summary)
    if link:
        url = canonical_url(link)
    else:  # a title with no link: give it a stable pseudo-URL so it is stored once
        digest = hashlib.sha256(f"{feed_url}\n{guid or title}".encode()).hexdigest()[:16]
        url = f"urn:news-monitor:{digest}"
    if not title:
        title = summary[:120] or url
    return Article(
        id=article_id_for(feed_url, guid, url),
        feed_url=feed_url,
        url=url,
        title=title,
        summary=summary,
        content=content,
        published_at=_published(entry),
        source=source,
        lang=lang,
    )


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary when one is near, with "…"."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit // 2, limit)
    return text[: cut if cut > 0 else limit - 1].rstrip() + "…"


def _title_and_source(
    entry: FeedParserDict, title: str, link: str, source: str, channel_title: str | None
) -> tuple[str, str]:
    """Drop a trailing " - Outlet" that names the item's <source>, or the feed itself.

    Google News items name the outlet in <source>; without one, an aggregator
    link's last " - " segment is the outlet.
    """
    outlet = fold_space((entry.get("source") or {}).get("title") or "") or None
    if outlet is None and is_aggregator_link(link):
        outlet = last_segment(title)
    stripped, _ = strip_outlet_suffix(title, (outlet, channel_title, source))
    return stripped, outlet or source


def _text(entry: FeedParserDict, key: str) -> str:
    detail = entry.get(f"{key}_detail") or {}
    return _clean(entry.get(key, ""), detail.get("type"))


def _clean(value: str, content_type: str | None) -> str:
    """feedparser hands plain-text fields over unescaped and HTML ones as markup."""
    if content_type == "text/plain":
        return fold_space(value)
    return html_to_text(value)


def _published(entry: FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key)  # not FeedParserDict's deprecated updated->published alias
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None
