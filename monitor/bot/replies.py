"""The bot's words: every reply as Telegram HTML, every value escaped.

Kept apart from bot.py so handlers stay parse -> act -> reply, and so the
texts can be read (and tested) without Telegram. Lists longer than one
message are split on item boundaries below the 4,096-character limit,
measured as Telegram does (`msglimit`); article fields are cut to their caps.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.core.models import Subscription
from monitor.core.timeutil import local_at, today_at
from monitor.delivery.msglimit import (
    LINE_MAX,
    SNIPPET_MAX,
    SOURCE_MAX,
    TELEGRAM_LIMIT,
    TOPIC_MAX,
    clip_html,
    cut_text,
    visible_length,
)
from monitor.delivery.render import bold_term, link_html, local_time
from monitor.matching.library import WatchlistLibrary
from monitor.pipeline.chats import MAX_RECENT, ChatSettings, zone_note
from monitor.storage import SNIPPET_CLOSE, SNIPPET_OPEN
from monitor.text.textnorm import plural

e = html.escape
TITLE_MAX = 300


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str
    description: str  # the menu text (setMyCommands) and the /help line
    admin: bool = False

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".strip()


COMMANDS = (
    Command("start", "", "What this bot does and how to subscribe"),
    Command("help", "", "All commands"),
    Command("watchlists", "", "Watchlists you can follow, with their topics"),
    Command("subscribe", "<watchlist> [topic …]", "Follow a watchlist, or some of its topics"),
    Command(
        "unsubscribe",
        "<watchlist> [topic …]|all",
        "Stop following a watchlist, some topics, or all",
    ),
    Command("mysubs", "", "What you follow, your digest time, mute"),
    Command("digest", "", "Today's stories so far: a preview, your daily digest still has them"),
    Command("digesttime", "HH:MM [Area/City] | off", "Your daily digest time and zone, or off"),
    Command("mute", "<hours>", "Hold instant alerts for a while; they arrive when it ends"),
    Command("unmute", "", "Instant alerts again"),
    Command("recent", f"[n ≤ {MAX_RECENT}]", "The latest hits for what you follow"),
    Command("search", "<words>", "Search every stored article, newest first"),
    Command("status", "", "Feeds, last poll, outbox (admins)", admin=True),
)
BY_NAME = {c.name: c for c in COMMANDS}


BUSY_TEXT = "One moment: the database is busy (another program is writing to it). I will answer."
STILL_BUSY_TEXT = "The database is still busy. Nothing was changed: please try again in a minute."


def usage(name: str, problem: str = "") -> str:
    command = BY_NAME[name]
    lead = f"{e(problem)}\n" if problem else ""
    return f"{lead}Usage: <code>{e(command.usage)}</code> — {e(command.description.lower())}."


def welcome_text(settings: ChatSettings, resumed: int) -> str:
    lines = [
        "<b>News monitor</b> follows US–Mexico security news in English and Spanish "
        "and tells you when your topics come up:",
        "• an <b>instant alert</b> for high-priority topics 🔔, as soon as a feed carries one;",
        f"• a <b>daily digest</b> at {e(settings.digest_time)} ({e(settings.timezone)}); "
        "change it with /digesttime.",
        "",
        "Subscribe with <code>/subscribe &lt;watchlist&gt; [topic …]</code> or tap a "
        "watchlist below. /watchlists lists the topics, /help every command.",
    ]
    if resumed:
        lines.insert(0, f"Welcome back: your {resumed} paused subscription(s) are active again.\n")
    if settings.active:
        lines.append(f"\nYou follow: {e(', '.join(s.watchlist for s in settings.active))}.")
    return "\n".join(lines)


def help_text(admin: bool, max_age_hours: float = 24) -> str:
    lines = ["<b>Commands</b>"]
    for command in COMMANDS:
        if command.admin and not admin:
            continue
        lines.append(f"<code>{e(command.usage)}</code> — {e(command.description)}")
    lines.append(
        "\nInstant alerts are for new stories on high-priority topics. A newly added feed's"
        " backlog"
        + (f" and stories more than {max_age_hours:g} hours old" if max_age_hours else "")
        + " wait for the digest, as does everything else. /digest is a preview of today so far:"
        " it does not move your daily digest, which still covers everything since the last one."
    )
    lines.append(
        "\nExamples: <code>/subscribe officials ken-salazar</code>, "
        "<code>/digesttime 18:00 Europe/Madrid</code>, <code>/mute 8</code>, "
        "<code>/search Zambada extradition</code>"
    )
    return "\n".join(lines)


def watchlists_texts(library: WatchlistLibrary) -> list[str]:
    if not library.watchlists:
        return ["No watchlists are loaded yet."]
    blocks = []
    for watchlist in library.watchlists:
        lines = [f"<b>{e(watchlist.title)}</b> — <code>{e(watchlist.id)}</code>"]
        for topic in watchlist.topics:
            flag = " 🔔" if topic.priority == "high" else ""
            lines.append(f"• <code>{e(topic.id)}</code> {e(topic.title)}{flag}")
        blocks.append("\n".join(lines))
    blocks.append(
        "🔔 = instant alerts; every topic is in the daily digest.\n"
        "<code>/subscribe &lt;watchlist&gt;</code> for all its topics, or name some after it."
    )
    return pack(blocks, separator="\n\n")


def describe(subscription_topics: Iterable[str]) -> str:
    topics = list(subscription_topics)
    return ", ".join(topics) if topics else "all topics"


def subscribed_text(watchlist: str, topics: Iterable[str], settings: ChatSettings) -> str:
    return (
        f"✅ Subscribed to <b>{e(watchlist)}</b> ({e(describe(topics))}).\n"
        "Instant alerts start with the next new article; /recent shows the latest ones. "
        f"Your digest comes daily at {e(settings.digest_time)} ({e(settings.timezone)})."
    )


def unsubscribed_text(dropped: list[str]) -> str:
    if not dropped:
        return "You had no subscriptions."
    return f"Unsubscribed from {e(', '.join(dropped))}. No more alerts or digests for them."


def topics_left_text(watchlist: str, left: Subscription | None) -> str:
    if left is None:
        return f"Unsubscribed from {e(watchlist)}: no topic of it was left."
    return f"Still following <b>{e(watchlist)}</b>: {e(describe(left.topics))}."


def mysubs_text(settings: ChatSettings, now: datetime) -> str:
    if not settings.subscriptions:
        return "You follow nothing yet. /watchlists shows what there is; /subscribe to start."
    lines = ["<b>You follow</b>"]
    for sub in settings.subscriptions:
        paused = " (paused)" if sub.paused else ""
        lines.append(f"• <b>{e(sub.watchlist)}</b>: {e(describe(sub.topics))}{paused}")
    if settings.digests_off:
        lines.append("\nDaily digests are off (<code>/digesttime 07:30</code> to resume).")
    else:
        lines.append(
            f"\nDaily digest at {e(settings.digest_time)} ({e(settings.timezone)}); "
            f"next: {e(next_digest(settings, now))}."
        )
    if settings.muted(now):
        until = local_time(settings.muted_until.isoformat(), settings.tz)  # type: ignore[union-attr]  # muted() means muted_until is set
        lines.append(f"🔕 Alerts muted until {e(until)}. /unmute to resume.")
    return "\n".join(lines)


def next_digest(settings: ChatSettings, now: datetime) -> str:
    if settings.digests_off:
        return "none (digests are off)"
    tz = settings.tz
    local = now.astimezone(tz)
    due = today_at(now, settings.digest_time, tz)
    if due <= local:
        due = local_at(local.date() + timedelta(days=1), settings.digest_time, tz)
    return due.strftime("%a %Y-%m-%d %H:%M %Z")


def digest_time_text(settings: ChatSettings, now: datetime) -> str:
    if settings.digests_off:
        return (
            "Daily digests are off; instant alerts and /digest still work. "
            "<code>/digesttime 07:30</code> turns them back on."
        )
    text = (
        f"Your daily digest now comes at {e(settings.digest_time)} ({e(settings.timezone)}); "
        f"next: {e(next_digest(settings, now))}. Alert times are shown in that zone too."
    )
    note = zone_note(settings.timezone)
    return f"{text}\n{e(note)}" if note else text


def muted_text(until: datetime, settings: ChatSettings) -> str:
    return (
        f"🔕 Instant alerts muted until {e(local_time(until.isoformat(), settings.tz))}. "
        "Alerts that come meanwhile wait and arrive when the mute ends, nothing is dropped; "
        "your digest still comes. /unmute to end it sooner."
    )


def unmuted_text(was_muted: bool, held: int = 0) -> str:
    if not was_muted:
        return "Alerts were not muted."
    if not held:
        return "🔔 Instant alerts are on again."
    return f"🔔 Instant alerts are on again; {plural(held, 'alert')} held meanwhile follow now."


def recent_texts(rows: Sequence[Mapping[str, Any]], settings: ChatSettings) -> list[str]:
    if not rows:
        return ["No hits yet for what you follow. New ones arrive as alerts and in your digest."]
    articles: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:  # one article, several topics: one item
        articles.setdefault(row["article_id"], []).append(row)
    blocks = [f"<b>Latest {len(articles)} for your subscriptions</b>"]
    for hits in articles.values():
        first = hits[0]
        topics = cut_text(", ".join(dict.fromkeys(h["topic"] for h in hits)), TOPIC_MAX)
        blocks.append(
            f"• {_link(first['url'], first['title'])}\n"
            f"<i>{_source(first)} · {e(local_time(first['published_at'], settings.tz))}"
            f" · {e(topics)}</i>\n{bold_term(first['snippet'], first['term'])}"
        )
    return pack(blocks)


def search_texts(
    query: str,
    rows: Sequence[Mapping[str, Any]],
    settings: ChatSettings,
    corrected: str | None = None,
) -> list[str]:
    query = cut_text(query, LINE_MAX)
    if not rows:
        return [f"Nothing stored matches “{e(query)}”. Every word must appear; try fewer."]
    if corrected:  # nothing matched as typed: the closest words the index knows did
        query = f"{cut_text(corrected, LINE_MAX)}” (nothing matched “{query}"
    found = plural(len(rows), "article") if len(rows) > 1 else "The one article"
    blocks = [f"<b>{found} matching “{e(query)}”{', newest first' if len(rows) > 1 else ''}</b>"]
    for row in rows:
        snippet = marked_html(row["snippet"] or "")
        blocks.append(
            f"• {_link(row['url'], row['title'])}\n"
            f"<i>{_source(row)} · {e(local_time(row['published_at'], settings.tz))}</i>"
            + (f"\n{snippet}" if snippet else "")
        )
    return pack(blocks)


def status_text(status: dict[str, Any]) -> str:
    health = "✅ ok" if status["healthy"] else "⚠️ problem"
    lines = [f"<b>Status</b>: {health}"]
    lines += [f"• {e(cut_text(p, LINE_MAX))}" for p in status["problems"][:10]]
    lines += [
        f"Last poll: {e(status['last_cycle_at'] or 'never')}",
        f"Feeds: {status['feeds_ok']} ok, {status['feeds_failing']} failing, "
        f"{status['feeds_total']} total",
        f"Outbox: {status['outbox_pending']} pending, {status['outbox_failed']} failed"
        + (
            f", oldest {e(status['outbox_oldest_pending'])}"
            if status["outbox_oldest_pending"]
            else ""
        ),
        f"Articles: {status['articles']}; hits today: {status['hits_today']}; "
        f"subscribers: {status['subscribers']}",
    ]
    for feed in status["failing_feeds"][:10]:
        url, error = cut_text(feed["url"], 150), cut_text(feed["last_error"] or "", 150)
        lines.append(f"✗ {e(url)} ×{feed['failures']}: {e(error)}")
    return clip_html("\n".join(lines))


def not_allowed_text(chat_id: int) -> str:
    return (
        f"Sorry, this chat ({chat_id}) is not allowed to use this bot. "
        "Ask its operator to add it to <code>[telegram] allowed_chats</code>."
    )


def admin_only_text(user_id: int | None) -> str:
    return (
        f"/status is for admins. Your user id is {user_id}; the operator can add it to "
        "<code>[telegram] admins</code>."
    )


def unknown_command_text(command: str) -> str:
    return f"I don't know {e(cut_text(command, 100))}. /help lists what I can do."


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters (as Telegram counts them), with "…" where it was cut."""
    return cut_text(text, limit)


def _link(url: str, title: str) -> str:
    return link_html(url, title, TITLE_MAX)  # lists of many items: shorter titles


def _source(row: Mapping[str, Any]) -> str:
    return e(cut_text(row["source"] or "", SOURCE_MAX))


def marked_html(snippet: str) -> str:
    """A search snippet, escaped, its matched words (between SNIPPET_OPEN and SNIPPET_CLOSE)
    in bold; a marker out of turn (a cut inside a match, or one in the text itself) is
    dropped, so the tags always pair up."""
    out, bold = [], False
    for ch in cut_text(snippet, SNIPPET_MAX):
        if ch in (SNIPPET_OPEN, SNIPPET_CLOSE):
            if (ch == SNIPPET_OPEN) != bold:
                out.append("</b>" if bold else "<b>")
                bold = not bold
            continue
        out.append(e(ch))
    return "".join(out) + ("</b>" if bold else "")


def pack(blocks: list[str], limit: int = TELEGRAM_LIMIT, separator: str = "\n") -> list[str]:
    """Join blocks into as few messages as fit under `limit` (visible UTF-16 units, as
    Telegram counts), never splitting a block; a block too long alone is clipped."""
    parts: list[str] = []
    current, size = "", 0
    gap = visible_length(separator)
    for block in blocks:
        block = clip_html(block, limit)
        length = visible_length(block)
        if current and size + gap + length <= limit:
            current, size = f"{current}{separator}{block}", size + gap + length
        else:
            if current:
                parts.append(current)
            current, size = block, length
    if current:
        parts.append(current)
    return parts
