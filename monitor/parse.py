"""Raw feed bytes -> `ParsedFeed` of clean `Article`s (feedparser lives here only).

- title and summary are plain text: markup removed by a real HTML parser,
  entities decoded, whitespace folded;
- the link is canonical: tracking parameters dropped, host lower-cased, no
  fragment, so the same story shared with different utm tags is one article;
- the id is stable across polls: the entry's guid (scoped by feed) or, for
  feeds without guids (uolNoticias.rss, iconv.xml in the corpus), the link;
- times are UTC; entries without a date get the time they were first seen.
A feed that yields entries despite being malformed keeps them with a warning;
one that yields none is an error for that feed only.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

from .htmltext import fold_space, html_to_text
from .models import Article, FetchResult, ParsedFeed

log = logging.getLogger(__name__)

MAX_SUMMARY_CHARS = 2_000
MAX_CONTENT_CHARS = 20_000
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
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query), ""))


def parse_feed(result: FetchResult, now: datetime, source_name: str | None = None) -> ParsedFeed:
    """Parse a fetched body into articles; never raises for bad content."""
    feed_url = result.feed.url
    body = result.body
    if not body.strip():
        return ParsedFeed(feed_url, None, (), error="empty response: the server sent no feed")
    headers = {"content-type": result.content_type} if result.content_type else {}
    try:
        parsed = feedparser.parse(
            body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True
        )
    except Exception as exc:  # feedparser is defensive, but a parser bug must not end the cycle
        log.exception("feedparser crashed feed=%s", feed_url)
        return ParsedFeed(
            feed_url, None, (), error=f"parser failed: {exc.__class__.__name__}: {exc}"
        )
    channel_title = fold_space(parsed.feed.get("title", "")) or None
    source = source_name or channel_title or urlsplit(feed_url).netloc or feed_url
    articles: list[Article] = []
    skipped = 0
    seen_ids: set[str] = set()
    for entry in parsed.entries:
        article = _article(entry, feed_url, source, result.feed.lang or parsed.feed.get("language"))
        if article is None:
            skipped += 1
            continue
        if article.id in seen_ids:
            continue
        seen_ids.add(article.id)
        articles.append(article)
    if skipped:
        log.info("skipped entries with neither title nor link feed=%s count=%d", feed_url, skipped)
    problem = _bozo_message(parsed, body, result.content_type)
    if not articles:
        if problem:
            return ParsedFeed(feed_url, channel_title, (), error=problem, skipped=skipped)
        if not parsed.get("version") and not channel_title:
            return ParsedFeed(
                feed_url, None, (), error="not a feed: no RSS or Atom found", skipped=skipped
            )
    warning = (
        f"malformed feed, kept {len(articles)} entries: {problem}" if problem and articles else None
    )
    return ParsedFeed(feed_url, channel_title, tuple(articles), warning=warning, skipped=skipped)


def _bozo_message(parsed, body: bytes, content_type: str | None) -> str | None:
    if not parsed.get("bozo"):
        return None
    head = body[:512].lstrip().lower()
    if (content_type or "").startswith("text/html") or head.startswith(
        (b"<!doctype html", b"<html")
    ):
        return "not a feed: the server sent an HTML page"
    exc = parsed.get("bozo_exception")
    return f"malformed feed: {exc.__class__.__name__}: {exc}" if exc else "malformed feed"


def _article(entry, feed_url: str, source: str, lang: str | None) -> Article | None:
    title = _text(entry, "title")
    link = (entry.get("link") or "").strip()
    guid = (entry.get("id") or "").strip() or None
    if not title and not link:
        return None
    if not link and guid and guid.startswith(("http://", "https://")):
        link = guid
    summary = _text(entry, "summary")[:MAX_SUMMARY_CHARS]
    content = ""
    if entry.get("content"):
        content = " ".join(_clean(c.get("value", ""), c.get("type")) for c in entry.content)
        content = content[:MAX_CONTENT_CHARS]
        if content == summary:
            content = ""
    if not summary and content:
        summary = content[:MAX_SUMMARY_CHARS]
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


def _text(entry, key: str) -> str:
    detail = entry.get(f"{key}_detail") or {}
    return _clean(entry.get(key, ""), detail.get("type"))


def _clean(value: str, content_type: str | None) -> str:
    """feedparser hands plain-text fields over unescaped and HTML ones as markup."""
    if content_type == "text/plain":
        return fold_space(value)
    return html_to_text(value)


def _published(entry) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None
