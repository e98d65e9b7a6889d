"""Alert payloads -> readable text for the console and escaped HTML for Telegram.

An alert payload is plain JSON stored in the outbox (so a message queued
before a crash renders the same after it): the article and its hits.
Every article field is escaped for Telegram's HTML parse mode; the matched
term is set in bold inside the snippet.
"""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from .models import Article, Hit
from .textnorm import tokenize
from .timeutil import iso, parse_iso

TELEGRAM_LIMIT = 4096


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
    topics = ", ".join(html.escape(h["topic_title"]) for h in payload["hits"])
    parts = [
        f"🔔 <b>{topics}</b>",
        f'<a href="{html.escape(article["url"], quote=True)}">{html.escape(article["title"])}</a>',
        f"<i>{html.escape(article['source'])} · {html.escape(local_time(article['published_at'], tz))}</i>",
    ]
    for hit in payload["hits"]:
        parts.append(
            f"matched “{html.escape(hit['term'])}”: {bold_term(hit['snippet'], hit['term'])}"
        )
    text = "\n".join(parts)
    if len(text) > TELEGRAM_LIMIT:  # a pathological snippet: drop snippets, keep the link
        text = "\n".join(parts[:3])
    return text


def bold_term(snippet: str, term: str) -> str:
    """Escape the snippet and set the words of the matched term in bold."""
    keys = {t.key for t in tokenize(term)}
    out, last = [], 0
    for token in tokenize(snippet):
        if token.key in keys:
            out.append(html.escape(snippet[last : token.start]))
            out.append(f"<b>{html.escape(snippet[token.start : token.end])}</b>")
            last = token.end
    out.append(html.escape(snippet[last:]))
    return "".join(out)
