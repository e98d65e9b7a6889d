"""A `Digest` as plain text (console, `monitor digest`) and as Telegram HTML messages.

Telegram parts are split on entry boundaries below the 4,096-character limit
(measured as Telegram does, `msglimit`; every field is cut to its cap first);
a topic heading always travels with its first entry, and a part that starts
in the middle of a topic repeats the topic's name. Entries are numbered
across the whole digest, so "3" on a feedback button is "3." in the text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from monitor.delivery.msglimit import (
    LINE_MAX,
    SOURCE_MAX,
    TELEGRAM_LIMIT,
    TERM_MAX,
    TOPIC_MAX,
    clip_html,
    cut_text,
    visible_length,
)
from monitor.delivery.render import bold_term, link_html
from monitor.digests.build import Digest, DigestEntry, DigestTopic

TELEGRAM_BUDGET = TELEGRAM_LIMIT - 96  # room for the "(2/3)" footer
MAX_ENTRIES_PER_PART = 40  # two buttons each: Telegram takes at most 100 per keyboard
e = html.escape


@dataclass(frozen=True, slots=True)
class TelegramPart:
    """One Telegram message of a digest and the entries in it: (number, hit ids)."""

    text: str
    entries: tuple[tuple[int, tuple[int, ...]], ...] = ()


def when(entry: DigestEntry, tz: ZoneInfo, digest_date: str) -> str:
    """Local time of publication; the date too when it is not the digest's day."""
    if entry.published_at is None:
        return "time unknown"
    local = entry.published_at.astimezone(tz)
    return local.strftime("%H:%M" if local.date().isoformat() == digest_date else "%d %b %H:%M")


def header_line(digest: Digest) -> str:
    if not digest.topics:
        return f"Digest for {digest.date}: nothing matched."
    counts = ", ".join(f"{t.title} {len(t.entries)}" for t in digest.topics)
    stories = "1 story" if digest.story_count == 1 else f"{digest.story_count} stories"
    return f"Digest for {digest.date} ({digest.timezone}): {stories} — {counts}"


def also_in_text(entry: DigestEntry) -> str:
    """ " · also in: A, B" for a story listed once that hit other topics too."""
    return f" · also in: {', '.join(entry.also_in)}" if entry.also_in else ""


def sources_text(entry: DigestEntry) -> str:
    if len(entry.sources) <= 1:
        return entry.sources[0] if entry.sources else "unknown source"
    return f"{len(entry.sources)} outlets: {', '.join(entry.sources)}"


# -- plain text ---------------------------------------------------------------------
def render_text(digest: Digest) -> str:
    tz = ZoneInfo(digest.timezone)
    lines = [header_line(digest)]
    watchlist = None
    for number, topic, entry in digest.numbered():
        if topic.watchlist != watchlist:
            watchlist = topic.watchlist
            heading = topic.watchlist_title or topic.watchlist
            lines += ["", heading, "=" * len(heading)]
        if entry is topic.entries[0]:
            flag = " [high]" if topic.priority == "high" else ""
            lines += ["", f"{topic.title}{flag} · {_stories(topic)} ({topic.topic})"]
        carried = f" · {len(entry.sources)} sources" if len(entry.sources) > 1 else ""
        lines.append(f"{number}. {entry.title}")
        lines.append(
            f"   {', '.join(entry.sources)} · {when(entry, tz, digest.date)}{carried}"
            + also_in_text(entry)
        )
        lines.append(f"   matched {entry.term!r}: {entry.snippet}")
        if entry.relevant or entry.not_relevant:
            lines.append(
                f"   votes: 👍 {entry.relevant} relevant · 👎 {entry.not_relevant} not relevant"
            )
        lines.append(f"   {entry.url}")
    return "\n".join(lines)


def _stories(topic: DigestTopic) -> str:
    count = topic.story_count
    return f"{count} {'story' if count == 1 else 'stories'}"


# -- Telegram HTML ------------------------------------------------------------------
def render_telegram_parts(digest: Digest, page_url: str | None = None) -> list[TelegramPart]:
    """Telegram HTML messages, split on entry boundaries below the 4,096 limit. A capped
    topic ends with "…and N more", linking to the day's page (`page_url`) when there is one."""
    tz = ZoneInfo(digest.timezone)
    header = f"<b>{e(cut_text(header_line(digest), LINE_MAX))}</b>"
    parts: list[tuple[str, list]] = [(header, [])]
    size = visible_length(header)  # of the last part, as Telegram counts it
    watchlist = None
    for number, topic, entry in digest.numbered():
        heading = ""
        if topic.watchlist != watchlist:
            watchlist = topic.watchlist
            heading += f"<b><u>{_e(topic.watchlist_title or topic.watchlist)}</u></b>\n\n"
        if entry is topic.entries[0]:
            heading += f"<b>{_e(topic.title)}</b>{_flag(topic)} · {_stories(topic)}\n"
        block = heading + _entry_html(number, entry, tz, digest.date)
        if entry is topic.entries[-1] and topic.more:
            block += "\n" + _more_html(topic.more, page_url)
        block = clip_html(block, TELEGRAM_BUDGET)
        text, entries = parts[-1]
        grown = size + 2 + visible_length(block)  # a blank line between entries: easy to scan
        if grown <= TELEGRAM_BUDGET and len(entries) < MAX_ENTRIES_PER_PART:
            parts[-1] = (f"{text}\n\n{block}", entries)
            size = grown
        else:
            if not heading:  # the new message starts mid-topic: say which
                block = f"<b>{_e(topic.title)}</b>{_flag(topic)} (continued)\n{block}"
            block = clip_html(block, TELEGRAM_BUDGET)
            parts.append((block, []))
            size = visible_length(block)
        parts[-1][1].append((number, entry.hit_ids))
    if len(parts) > 1:
        parts = [(f"{t}\n<i>({i}/{len(parts)})</i>", n) for i, (t, n) in enumerate(parts, 1)]
    return [TelegramPart(text, tuple(entries)) for text, entries in parts]


def _more_html(more: int, page_url: str | None) -> str:
    stories = "story" if more == 1 else "stories"
    if page_url:
        page = link_html(page_url, "the day's page")
        return f"<i>…and {more} more {stories}: {page}</i>"
    return f"<i>…and {more} more {stories} (/recent 20 lists the latest)</i>"


def _flag(topic: DigestTopic) -> str:
    return " 🔔" if topic.priority == "high" else ""


def _e(title: str) -> str:
    """A topic or watchlist title, cut to its cap and escaped."""
    return e(cut_text(title, TOPIC_MAX))


def _entry_html(number: int, entry: DigestEntry, tz: ZoneInfo, digest_date: str) -> str:
    term = cut_text(entry.term, TERM_MAX)
    meta = (
        f"{e(cut_text(sources_text(entry), SOURCE_MAX))} · {when(entry, tz, digest_date)}"
        f" · matched “{e(term)}”" + e(cut_text(also_in_text(entry), SOURCE_MAX))
    )
    link = link_html(entry.url, entry.title)
    return f"<b>{number}.</b> {link}\n<i>{meta}</i>\n{bold_term(entry.snippet, term)}"
