"""Hits -> `Digest` -> plain text, Telegram HTML parts, or a standalone HTML page.

One Digest object feeds all three renderings, so the console, Telegram and
the archived page always say the same thing. Inside a topic, one entry per
story: articles with the same canonical URL or near-identical titles from
several outlets collapse into one entry that lists its sources; entries rank
by number of sources, then recency. High-priority topics come first.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .render import TELEGRAM_LIMIT, bold_term
from .textnorm import fold_tokens
from .timeutil import parse_iso

SAME_STORY_JACCARD = 0.8
TELEGRAM_BUDGET = TELEGRAM_LIMIT - 96  # room for a "(2/3)" continuation header


@dataclass(frozen=True, slots=True)
class DigestEntry:
    title: str
    url: str
    sources: tuple[str, ...]
    published_at: datetime | None
    term: str
    snippet: str
    hit_ids: tuple[int, ...]
    article_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DigestTopic:
    watchlist: str
    topic: str
    title: str
    priority: str
    entries: tuple[DigestEntry, ...]

    @property
    def hit_count(self) -> int:
        return sum(len(e.hit_ids) for e in self.entries)


@dataclass(frozen=True, slots=True)
class Digest:
    date: str  # local date, YYYY-MM-DD
    timezone: str
    topics: tuple[DigestTopic, ...]

    @property
    def hit_count(self) -> int:
        return sum(t.hit_count for t in self.topics)

    @property
    def story_count(self) -> int:
        return sum(len(t.entries) for t in self.topics)


def build_digest(
    rows: Iterable[Mapping],
    date: str,
    tz: ZoneInfo,
    topic_titles: Mapping[tuple[str, str], str] | None = None,
) -> Digest:
    """Group hit rows (from `Store.hits_between`) into a ranked, deduplicated digest."""
    titles = topic_titles or {}
    by_topic: dict[tuple[str, str], list[Mapping]] = {}
    for row in rows:
        by_topic.setdefault((row["watchlist"], row["topic"]), []).append(row)
    topics = []
    for (watchlist, topic), topic_rows in by_topic.items():
        priority = "high" if any(r["priority"] == "high" for r in topic_rows) else "normal"
        entries = sorted(
            _collapse(topic_rows),
            key=lambda e: (-len(e.sources), -(e.published_at.timestamp() if e.published_at else 0)),
        )
        topics.append(
            DigestTopic(
                watchlist, topic, titles.get((watchlist, topic), topic), priority, tuple(entries)
            )
        )
    topics.sort(key=lambda t: (t.priority != "high", -t.hit_count, t.watchlist, t.topic))
    return Digest(date=date, timezone=tz.key, topics=tuple(topics))


def _collapse(rows: list[Mapping]) -> list[DigestEntry]:
    """Merge rows that are one story: same URL, or titles sharing 80% of their words."""
    stories: list[list[Mapping]] = []
    words: list[set[str]] = []
    for row in sorted(rows, key=lambda r: r["created_at"]):
        row_words = set(fold_tokens(row["title"]))
        for index, story in enumerate(stories):
            if (
                row["url"] == story[0]["url"]
                or _jaccard(row_words, words[index]) >= SAME_STORY_JACCARD
            ):
                story.append(row)
                words[index] |= row_words
                break
        else:
            stories.append([row])
            words.append(row_words)
    return [_entry(story) for story in stories]


def _jaccard(a: set[str], b: set[str]) -> float:
    if len(a) < 4 or len(b) < 4:
        return 0.0
    return len(a & b) / len(a | b)


def _entry(story: list[Mapping]) -> DigestEntry:
    lead = max(story, key=lambda r: r["score"])
    sources: list[str] = []
    for row in story:
        for source in (row.get("sources") or row.get("source") or "").split("\n"):
            if source and source not in sources:
                sources.append(source)
    return DigestEntry(
        title=lead["title"],
        url=lead["url"],
        sources=tuple(sources),
        published_at=parse_iso(lead["published_at"]),
        term=lead["term"],
        snippet=lead["snippet"],
        hit_ids=tuple(r["hit_id"] for r in story),
        article_ids=tuple(dict.fromkeys(r["article_id"] for r in story)),
    )


def _when(entry: DigestEntry, tz: ZoneInfo, digest_date: str) -> str:
    """Local time of publication; the date too when it is not the digest's day."""
    if entry.published_at is None:
        return "time unknown"
    local = entry.published_at.astimezone(tz)
    return local.strftime("%H:%M" if local.date().isoformat() == digest_date else "%d %b %H:%M")


def header_line(digest: Digest) -> str:
    if not digest.topics:
        return f"Digest for {digest.date}: nothing matched today."
    counts = ", ".join(f"{t.title} {len(t.entries)}" for t in digest.topics)
    return f"Digest for {digest.date} ({digest.timezone}): {digest.story_count} stories — {counts}"


# -- plain text ---------------------------------------------------------------------
def render_text(digest: Digest) -> str:
    tz = ZoneInfo(digest.timezone)
    lines = [header_line(digest)]
    for topic in digest.topics:
        flag = " [high]" if topic.priority == "high" else ""
        lines += ["", f"== {topic.title}{flag} ({topic.watchlist}/{topic.topic}) =="]
        for entry in topic.entries:
            carried = f" · {len(entry.sources)} sources" if len(entry.sources) > 1 else ""
            lines.append(f"- {entry.title}")
            lines.append(f"  {', '.join(entry.sources)} · {_when(entry, tz, digest.date)}{carried}")
            lines.append(f"  matched {entry.term!r}: {entry.snippet}")
            lines.append(f"  {entry.url}")
    return "\n".join(lines)


# -- Telegram HTML ------------------------------------------------------------------
def render_telegram(digest: Digest) -> list[str]:
    """Telegram HTML messages, split on entry boundaries below the 4,096 limit."""
    tz = ZoneInfo(digest.timezone)
    blocks = [f"<b>{html.escape(header_line(digest))}</b>"]
    for topic in digest.topics:
        flag = " 🔔" if topic.priority == "high" else ""
        blocks.append(f"\n<b>{html.escape(topic.title)}</b>{flag}")
        for entry in topic.entries:
            sources = html.escape(", ".join(entry.sources))
            blocks.append(
                f'• <a href="{html.escape(entry.url, quote=True)}">{html.escape(entry.title)}</a>\n'
                f"<i>{sources} · {_when(entry, tz, digest.date)}</i>\n{bold_term(entry.snippet, entry.term)}"
            )
    return _split(blocks)


def _split(blocks: list[str]) -> list[str]:
    parts: list[str] = []
    current = ""
    for block in blocks:
        if len(block) > TELEGRAM_BUDGET:
            block = block[: TELEGRAM_BUDGET - 1]
            block = block[: block.rfind("\n")] if "\n" in block else html.escape("(entry too long)")
        candidate = f"{current}\n{block}" if current else block
        if len(candidate) > TELEGRAM_BUDGET and current:
            parts.append(current)
            current = block
        else:
            current = candidate
    if current:
        parts.append(current)
    if len(parts) > 1:
        parts = [f"{p}\n<i>({i}/{len(parts)})</i>" for i, p in enumerate(parts, start=1)]
    return parts


# -- standalone HTML page -----------------------------------------------------------
PAGE_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f6f4;color:#1d1d1f}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.5rem 0 .5rem;border-bottom:2px solid #ccc}
.high h2{border-color:#c0392b}.meta{color:#555;font-size:.9rem}
article{background:#fff;border-radius:8px;padding:.75rem 1rem;margin:.5rem 0;box-shadow:0 1px 2px #0002}
article a{font-weight:600;color:#0b57d0;text-decoration:none}.snippet{margin:.3rem 0 0}
mark{background:#ffe58a}.empty{font-style:italic}
.toc{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem}
.toc li{background:#fff;border-radius:1rem;padding:.15rem .7rem;box-shadow:0 1px 2px #0002}
.toc a{color:inherit;text-decoration:none}
@media (prefers-color-scheme:dark){body{background:#1b1b1d;color:#e6e6e6}article,.toc li{background:#26262a}
.meta{color:#aaa}article a{color:#8ab4f8}mark{background:#6b5a00;color:#fff}}
"""


def render_html_page(digest: Digest) -> str:
    tz = ZoneInfo(digest.timezone)
    body = [
        f"<h1>News digest — {html.escape(digest.date)}</h1>",
        f'<p class="meta">{digest.story_count} stories · {digest.hit_count} hits · '
        f"times in {html.escape(digest.timezone)}</p>",
    ]
    if not digest.topics:
        body.append('<p class="empty">Nothing matched today.</p>')
    else:
        links = "".join(
            f'<li><a href="#{html.escape(t.watchlist)}-{html.escape(t.topic)}">{html.escape(t.title)}</a>'
            f' <span class="meta">{len(t.entries)}</span></li>'
            for t in digest.topics
        )
        body.append(f'<nav><ul class="toc">{links}</ul></nav>')
    for topic in digest.topics:
        cls = "topic high" if topic.priority == "high" else "topic"
        body.append(
            f'<section class="{cls}" id="{html.escape(topic.watchlist)}-{html.escape(topic.topic)}">'
        )
        body.append(
            f'<h2>{html.escape(topic.title)} <span class="meta">({len(topic.entries)})</span></h2>'
        )
        for entry in topic.entries:
            snippet = (
                bold_term(entry.snippet, entry.term)
                .replace("<b>", "<mark>")
                .replace("</b>", "</mark>")
            )
            body.append(
                "<article>"
                f'<a href="{html.escape(entry.url, quote=True)}">{html.escape(entry.title)}</a>'
                f'<div class="meta">{html.escape(", ".join(entry.sources))} · {_when(entry, tz, digest.date)}'
                f" · matched “{html.escape(entry.term)}”</div>"
                f'<p class="snippet">{snippet}</p></article>'
            )
        body.append("</section>")
    return _page(
        f"News digest {digest.date}",
        "\n".join(body),
        meta={"hit-count": str(digest.story_count), "digest-date": digest.date},
    )


def _page(title: str, body: str, meta: Mapping[str, str] | None = None) -> str:
    metas = "".join(
        f'<meta name="{k}" content="{html.escape(v, quote=True)}">' for k, v in (meta or {}).items()
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{metas}<title>{html.escape(title)}</title><style>{PAGE_CSS}</style></head>"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def write_html_archive(digest: Digest, html_dir: Path) -> Path:
    """Write `YYYY-MM-DD.html` and refresh `index.html` (newest first, with counts)."""
    html_dir.mkdir(parents=True, exist_ok=True)
    page = html_dir / f"{digest.date}.html"
    page.write_text(render_html_page(digest), encoding="utf-8")
    write_index(html_dir)
    return page


def write_index(html_dir: Path) -> Path:
    rows = []
    for page in sorted(html_dir.glob("????-??-??.html"), reverse=True):
        found = re.search(
            r'<meta name="hit-count" content="(\d+)">', page.read_text(encoding="utf-8")
        )
        count = found.group(1) if found else "?"
        rows.append(
            f'<li><a href="{page.name}">{page.stem}</a> <span class="meta">{count} stories</span></li>'
        )
    body = "<h1>News digests</h1>\n<ul>\n" + "\n".join(rows) + "\n</ul>"
    index = html_dir / "index.html"
    index.write_text(_page("News digests", body), encoding="utf-8")
    return index
