"""Alerts and surges -> readable text for the console and escaped HTML for Telegram.

Rendered when queued, for the chat that will read them (`render_alert`,
`render_surge`): the outbox row holds the text that is sent, and the data it
was made from (the article and its hits), so a retry sends the same bytes.
Every article field is escaped for Telegram's HTML parse mode; every
Telegram renderer makes its links with `link_html` (http(s) only); the
matched term is set in bold inside the snippet. Fields are cut to their caps first
(`msglimit`), so a message always fits Telegram's limit and stays valid HTML.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from monitor.core.models import Article, Hit
from monitor.core.outbox import CONSOLE_CHAT
from monitor.core.timeutil import iso, parse_iso
from monitor.delivery.msglimit import (
    LINE_MAX,
    SNIPPET_MAX,
    SOURCE_MAX,
    TELEGRAM_LIMIT,
    TERM_MAX,
    TITLE_MAX,
    TOPIC_MAX,
    cut_text,
    join_fitting,
)
from monitor.text.textnorm import tokenize
from monitor.text.urlsafety import safe_http_url

__all__ = [
    "TELEGRAM_LIMIT",
    "alert_payload",
    "bold_term",
    "link_html",
    "render_alert",
    "render_alert_html",
]


e = html.escape


def alert_payload(
    article: Article, hits: list[Hit], topic_titles: dict[tuple[str, str], str]
) -> dict:
    return {
        "article": {
            "id": article.id,
            "title": article.title,
            "url": article.url,
            "source": article.source,
            "published_at": iso(article.published_at),
            "summary": article.summary[:500],
        },
        "hits": [
            {
                "watchlist": h.watchlist,
                "topic": h.topic,
                "topic_title": topic_titles.get((h.watchlist, h.topic), h.topic),
                "term": h.term,
                "score": h.score,
                "snippet": h.snippet,
                "field": h.field,
                "priority": h.priority,
            }
            for h in hits
        ],
    }


def render_alert(payload: dict, chat_id: str) -> str:
    """An alert as its chat reads it: plain text on the console, Telegram HTML elsewhere,
    at the time of the chat's zone (`payload["timezone"]`)."""
    tz = ZoneInfo(payload["timezone"])
    if chat_id == CONSOLE_CHAT:
        return "ALERT " + render_alert_text(payload, tz)
    return render_alert_html(payload, tz)


def local_time(value: str | None, tz: ZoneInfo) -> str:
    moment = parse_iso(value)
    if moment is None:
        return "time unknown"
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def render_alert_text(payload: dict, tz: ZoneInfo) -> str:
    article = payload["article"]
    lines = []
    for hit in payload["hits"]:
        lines.append(f"[{hit['watchlist']}/{hit['topic']}] {hit['topic_title']}")
    lines.append(f"  {article['title']}")
    lines.append(f"  {article['source']} · {local_time(article['published_at'], tz)}")
    for hit in payload["hits"]:
        lines.append(f"  matched {hit['term']!r} (score {hit['score']:g}) in {hit['field']}:")
        lines.append(f"    {hit['snippet']}")
    lines.append(f"  {article['url']}")
    return "\n".join(lines)


def render_alert_html(payload: dict, tz: ZoneInfo) -> str:
    article = payload["article"]
    topics = cut_text(", ".join(h["topic_title"] for h in payload["hits"]), TOPIC_MAX)
    source = cut_text(article["source"] or "", SOURCE_MAX)
    parts = [
        f"🔔 <b>{html.escape(topics)}</b>",
        link_html(article["url"], article["title"]),
        f"<i>{html.escape(source)} · {html.escape(local_time(article['published_at'], tz))}</i>",
    ]
    for hit in payload["hits"]:
        parts.append(matched_html(hit["term"], hit["snippet"]))
    return join_fitting(parts, keep=3)  # many topics' snippets: drop snippets, keep the link


def link_html(url: str, text: str, limit: int = TITLE_MAX) -> str:
    """A Telegram link: `text` cut to `limit` and escaped. Only an http(s) `url` becomes a
    text_link: a feed's `javascript:`, `data:`, `file:` or `tg:` link would be a command to
    the reader's client (issue 12, finding 5), so its title is shown as plain text."""
    shown = html.escape(cut_text(text, limit))
    href = safe_http_url(url or "")
    return f'<a href="{html.escape(href, quote=True)}">{shown}</a>' if href else shown


def matched_html(term: str, snippet: str) -> str:
    """The line `matched “term”: snippet`, the term in bold, both cut to their caps."""
    term = cut_text(term, TERM_MAX)
    return f"matched “{html.escape(term)}”: {bold_term(snippet, term)}"


def bold_term(snippet: str, term: str) -> str:
    """Escape the snippet (cut to its cap) and set the words of the matched term in bold."""
    snippet = cut_text(snippet, SNIPPET_MAX)
    keys = {t.key for t in tokenize(term)}
    out, last = [], 0
    for token in tokenize(snippet):
        if token.key in keys:
            out.append(html.escape(snippet[last : token.start]))
            out.append(f"<b>{html.escape(snippet[token.start : token.end])}</b>")
            last = token.end
    out.append(html.escape(snippet[last:]))
    return "".join(out)


MAX_OUTLETS_SHOWN = 12


def surge_headline(
    rows: Sequence[Mapping[str, Any]], outlets: list[str], topic_titles: dict[tuple[str, str], str]
) -> str:
    topics = " · ".join(  # topic titles may hold commas ("Ken Salazar, US ambassador")
        dict.fromkeys(topic_titles.get((r["watchlist"], r["topic"]), r["topic"]) for r in rows)
    )
    shown = ", ".join(outlets[:MAX_OUTLETS_SHOWN])
    more = (
        f" and {len(outlets) - MAX_OUTLETS_SHOWN} more" if len(outlets) > MAX_OUTLETS_SHOWN else ""
    )
    return f"📈 Surge: {topics} — carried by {len(outlets)} outlets: {shown}{more}"


def render_surge_text(
    rows: Sequence[Mapping[str, Any]],
    outlets: list[str],
    topic_titles: dict[tuple[str, str], str],
    tz: ZoneInfo,
) -> str:
    lead = rows[0]
    lines = [surge_headline(rows, outlets, topic_titles), f"  {lead['title']}"]
    lines.append(f"  first published {local_time(lead['published_at'], tz)}")
    for row in rows:
        lines.append(f"  matched {row['term']!r}: {row['snippet']}")
    lines.append(f"  {lead['url']}")
    return "\n".join(lines)


def render_surge_html(
    rows: Sequence[Mapping[str, Any]],
    outlets: list[str],
    topic_titles: dict[tuple[str, str], str],
    tz: ZoneInfo,
) -> str:
    lead = rows[0]
    parts = [
        f"<b>{e(cut_text(surge_headline(rows, outlets, topic_titles), LINE_MAX))}</b>",
        link_html(lead["url"], lead["title"]),
        f"<i>first published {e(local_time(lead['published_at'], tz))}</i>",
    ]
    for row in rows:
        parts.append(matched_html(row["term"], row["snippet"]))
    return join_fitting(parts, keep=3)


def render_surge(
    rows: Sequence[Mapping[str, Any]],
    outlets: list[str],
    topic_titles: dict[tuple[str, str], str],
    tz: ZoneInfo,
    chat_id: str,
) -> str:
    """A surge as its chat reads it: plain text on the console, Telegram HTML elsewhere."""
    render = render_surge_text if chat_id == CONSOLE_CHAT else render_surge_html
    return render(rows, outlets, topic_titles, tz)
