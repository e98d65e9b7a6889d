"""What a chat can ask of the monitor, with no Telegram in sight.

bot.py parses a command and calls one of these: they check the request against
the watchlists and the config, change the store, and return plain data, or
raise `UserError` with the sentence the chat should read. The scheduler calls
`queue_chat_digest` at each subscriber's own time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.core.config import TIME_RE, Config
from monitor.core.errors import UserError
from monitor.core.models import Subscription
from monitor.core.outbox import DIGEST, digest_now_key
from monitor.core.timeutil import MAX_ZONE_NAME, iana_zone, iso, local_midnight, parse_iso, today_at
from monitor.digests.build import build_digest
from monitor.digests.feedback import digest_payloads
from monitor.matching.watchlists import Watchlist
from monitor.pipeline.digestjob import queue_digest
from monitor.pipeline.runtime import Runtime

DIGESTS_OFF = "off"  # chats.digest_time for a chat that wants no scheduled digest
MIN_MUTE_HOURS = 1
MAX_MUTE_HOURS = 24 * 30
MAX_RECENT = 20
DEFAULT_RECENT = 5
SEARCH_RESULTS = 10
HOURS_RE = re.compile(r"^\d+(\.\d+)?h?$")
# Every command argument is a watchlist or topic id, a time, a zone, a number or a search
# word: none is near these lengths. Bounded before anything looks at them (a 10,000-
# character zone name once reached the file system as a file name).
MAX_ARGUMENT_CHARS = 64
MAX_ARGUMENTS = 20


@dataclass(frozen=True, slots=True)
class ChatSettings:
    chat_id: str
    timezone: str
    digest_time: str
    muted_until: datetime | None
    subscriptions: tuple[Subscription, ...]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def active(self) -> tuple[Subscription, ...]:
        return tuple(s for s in self.subscriptions if not s.paused)

    def wants(self, watchlist: str, topic: str) -> bool:
        return any(s.wants(watchlist, topic) for s in self.active)

    @property
    def digests_off(self) -> bool:
        return self.digest_time == DIGESTS_OFF

    @property
    def wants_digests(self) -> bool:
        """Subscribed to something, and not `/digesttime off`."""
        return bool(self.active) and not self.digests_off

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now


def check_arguments(args: list[str]) -> list[str]:
    """A command's words, or `UserError` when there are too many or one is too long."""
    if len(args) > MAX_ARGUMENTS:
        raise UserError(f"That is {len(args)} words: a command takes at most {MAX_ARGUMENTS}.")
    longest = max(args, key=len, default="")
    if len(longest) > MAX_ARGUMENT_CHARS:
        raise UserError(
            f"“{longest[:20]}…” is {len(longest):,} characters long: "
            f"a word of a command has at most {MAX_ARGUMENT_CHARS}."
        )
    return args


def chat_settings(rt: Runtime, chat_id: str) -> ChatSettings:
    """The chat's own digest time and zone, or the config's defaults."""
    chat: Mapping[str, Any] = rt.store.chat(chat_id) or {}
    return ChatSettings(
        chat_id=chat_id,
        timezone=chat.get("timezone") or rt.config.digest.timezone,
        digest_time=chat.get("digest_time") or rt.config.digest.time,
        muted_until=parse_iso(chat.get("muted_until")),
        subscriptions=tuple(rt.store.subscriptions(chat_id)),
    )


def is_allowed(config: Config, chat_id: int, user_id: int | None) -> bool:
    """Anyone when `allowed_chats` is empty; else listed chats, and admins anywhere."""
    allowed = config.telegram.allowed_chats
    return not allowed or chat_id in allowed or is_admin(config, user_id)


def is_admin(config: Config, user_id: int | None) -> bool:
    return user_id is not None and user_id in config.telegram.admins


def subscribe(
    rt: Runtime, chat_id: str, watchlist_id: str, topic_ids: list[str], now: datetime
) -> Subscription:
    """Subscribe to a watchlist, or add some of its topics; alerts start with the next new hit
    (nothing from the backlog: /recent shows that)."""
    watchlist = rt.library.get(watchlist_id.strip().lower())
    if watchlist is None:
        known = ", ".join(w.id for w in rt.library.watchlists) or "none"
        raise UserError(f"There is no watchlist “{watchlist_id}”. Available: {known}.")
    wanted = _topics_of(watchlist, topic_ids)
    current = _subscription(rt, chat_id, watchlist.id)
    if current and not current.paused and current.topics and wanted:
        wanted = [*current.topics, *(t for t in wanted if t not in current.topics)]  # adds
    # naming topics narrows a whole-watchlist subscription to them; naming none widens it
    rt.store.subscribe(chat_id, watchlist.id, wanted, now)
    rt.chat_changed(chat_id)
    stored = _subscription(rt, chat_id, watchlist.id)
    assert stored is not None  # written just above, in this thread's connection
    return stored


def unsubscribe_topics(
    rt: Runtime, chat_id: str, watchlist_id: str, topic_ids: list[str], now: datetime
) -> Subscription | None:
    """Stop following some topics of a watchlist; the subscription that is left, or None
    when no topic is left (then the watchlist is dropped)."""
    watchlist = rt.library.get(watchlist_id.strip().lower())
    current = _subscription(rt, chat_id, watchlist.id) if watchlist else None
    if watchlist is None or current is None:
        mine = ", ".join(s.watchlist for s in rt.store.subscriptions(chat_id)) or "nothing yet"
        raise UserError(f"You are not subscribed to “{watchlist_id}” (you have: {mine}).")
    dropped = _topics_of(watchlist, topic_ids)
    following = list(current.topics) or [t.id for t in watchlist.topics]
    left = [t for t in following if t not in dropped]
    if not left:
        rt.store.unsubscribe(chat_id, watchlist.id)
        rt.chat_changed(chat_id)
        return None
    rt.store.subscribe(chat_id, watchlist.id, left, now)
    rt.chat_changed(chat_id)
    return _subscription(rt, chat_id, watchlist.id)


def _topics_of(watchlist: Watchlist, topic_ids: list[str]) -> list[str]:
    """The topic ids named in `topic_ids` (spaces or commas), all of them real."""
    known = {t.id for t in watchlist.topics}
    wanted = [t.lower() for arg in topic_ids for t in arg.replace(",", " ").split()]
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise UserError(
            f"“{watchlist.id}” has no topic {', '.join(unknown)}. "
            f"Its topics: {', '.join(sorted(known))}."
        )
    return list(dict.fromkeys(wanted))


def _subscription(rt: Runtime, chat_id: str, watchlist_id: str) -> Subscription | None:
    return next((s for s in rt.store.subscriptions(chat_id) if s.watchlist == watchlist_id), None)


def unsubscribe(rt: Runtime, chat_id: str, target: str) -> list[str]:
    """Drop one subscription or `all`; returns the watchlists dropped."""
    target = target.strip().lower()
    mine = [s.watchlist for s in rt.store.subscriptions(chat_id)]
    if target == "all":
        rt.store.unsubscribe(chat_id, None)
        dropped = mine
    elif target in mine:
        rt.store.unsubscribe(chat_id, target)
        dropped = [target]
    else:
        have = ", ".join(mine) if mine else "nothing yet"
        raise UserError(f"You are not subscribed to “{target}” (you have: {have}).")
    rt.chat_changed(chat_id)
    return dropped


def resume(rt: Runtime, chat_id: str) -> int:
    """The chat is talking to us again (after blocking the bot): resume what was paused."""
    resumed = rt.store.resume_chat(chat_id)
    if resumed:
        rt.chat_changed(chat_id)
    return resumed


def migrate(rt: Runtime, old_id: str, new_id: str, now: datetime) -> None:
    """A group became a supergroup: subscriptions, settings and queue follow the new id."""
    rt.store.migrate_chat(old_id, new_id, now)
    rt.chat_changed(old_id)
    rt.chat_changed(new_id)


def set_digest_time(rt: Runtime, chat_id: str, args: list[str], now: datetime) -> ChatSettings:
    """`HH:MM [Area/City]`: the chat's own daily digest time and IANA time zone; `off`: no
    scheduled digest (alerts and /digest still work) until a time is set again."""
    if args and args[0].lower() == DIGESTS_OFF and len(args) == 1:
        rt.store.update_chat(chat_id, now, digest_time=DIGESTS_OFF)
        rt.chat_changed(chat_id)
        return chat_settings(rt, chat_id)
    if not args or len(args) > 2:
        raise UserError(
            "Give a time and, if you like, a time zone: /digesttime 07:30 Europe/Madrid"
        )
    hhmm = args[0] if len(args[0]) == 5 else args[0].zfill(5)
    if not TIME_RE.match(hhmm):
        raise UserError(f"“{args[0]}” is not a time: use HH:MM, 24-hour, like 07:30 or 18:45.")
    fields = {"digest_time": hhmm}
    if len(args) == 2:
        fields["timezone"] = check_zone(args[1])
    rt.store.update_chat(chat_id, now, **fields)
    rt.chat_changed(chat_id)
    return chat_settings(rt, chat_id)


# zones that are a fixed offset, and the city zone people who type them usually mean
FIXED_OFFSET_ZONES = {
    "EST": "America/New_York",
    "MST": "America/Denver",
    "HST": "Pacific/Honolulu",
    "UTC": None,
    "GMT": None,
}


def zone_note(name: str) -> str | None:
    """A warning for a zone that ignores daylight saving, with the zone to use instead."""
    instead = FIXED_OFFSET_ZONES.get(name, "" if name.startswith("Etc/GMT") else None)
    if instead is None:
        return None
    suggestion = f" such as {instead}" if instead else " (for example America/Mexico_City)"
    return (
        f"Note: {name} is a fixed offset that ignores daylight saving; for a city's local "
        f"time use its zone{suggestion}."
    )


def check_zone(name: str) -> str:
    zone = iana_zone(name)
    if zone is None:
        raise UserError(
            f"“{name[:MAX_ZONE_NAME]}” is not an IANA time zone: use a name like "
            "America/Mexico_City, Europe/Madrid or UTC."
        )
    return zone.key


def mute(rt: Runtime, chat_id: str, hours_text: str, now: datetime) -> datetime:
    """Hold instant alerts for a while (the digest still comes); returns when they resume."""
    text = hours_text.strip().lower()
    hours = float(text.rstrip("h")) if HOURS_RE.match(text) else 0.0
    if not MIN_MUTE_HOURS <= hours <= MAX_MUTE_HOURS:
        raise UserError(
            f"Mute for how many hours? A number from {MIN_MUTE_HOURS} to {MAX_MUTE_HOURS}, "
            "like /mute 8."
        )
    until = now + timedelta(hours=hours)
    rt.store.update_chat(chat_id, now, muted_until=iso(until))
    return until


def unmute(rt: Runtime, chat_id: str, now: datetime) -> tuple[bool, int]:
    """Alerts resume now, the ones held meanwhile first. Returns whether the chat was
    muted and how many held alerts now follow."""
    was_muted = chat_settings(rt, chat_id).muted(now)
    with rt.store.transaction():
        held = rt.store.held_count(chat_id)
        rt.store.update_chat(chat_id, now, muted_until=None)
        rt.store.release_held(now)
    return was_muted, held


def parse_count(args: list[str], default: int, maximum: int) -> int:
    if not args:
        return default
    if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= maximum:
        raise UserError(f"Give a number from 1 to {maximum}, like /recent {default}.")
    return int(args[0])


def queue_digest_now(rt: Runtime, chat_id: str, now: datetime, request_key: str) -> int:
    """/digest: today's hits so far (local midnight in the chat's zone) for its subscriptions.

    It is an extra copy: the scheduled digest and its window are untouched.
    `request_key` (the Telegram update id) makes a re-delivered command queue nothing.
    """
    settings = chat_settings(rt, chat_id)
    if not settings.active:
        raise UserError("You have no subscriptions yet: /subscribe first, or see /watchlists.")
    tz = settings.tz
    local = now.astimezone(tz)
    midnight = local_midnight(now, tz)
    rows = [
        r
        for r in rt.store.hits_between(midnight, now + timedelta(seconds=1))
        if settings.wants(r["watchlist"], r["topic"])
    ]
    if not rows:
        return 0
    titles, wl_titles = rt.library.topic_titles(), rt.library.watchlist_titles()
    digest = build_digest(rows, local.date().isoformat(), tz, titles, wl_titles, now)
    queued = 0
    with rt.store.transaction():
        for index, payload in enumerate(
            digest_payloads(rt.store, digest, chat_id, now, rt.config.digest), 1
        ):
            key = digest_now_key(chat_id, request_key, index)
            queued += rt.store.enqueue(chat_id, DIGEST, key, payload, now)
    return queued


def queue_chat_digest(rt: Runtime, chat_id: str, now: datetime) -> int:
    """The scheduled daily digest of one chat: the hits since its last one, in its zone."""
    settings = chat_settings(rt, chat_id)
    if not settings.wants_digests:
        return 0
    return queue_digest(rt, chat_id, now, settings.timezone, settings.wants)


def digest_missed(rt: Runtime, chat_id: str, now: datetime) -> bool:
    """Was today's digest due while the worker was down? Only for chats that had one
    before: a new subscriber waits for their first scheduled time."""
    settings = chat_settings(rt, chat_id)
    chat = rt.store.chat(chat_id)
    last = parse_iso(chat["last_digest_at"] if chat else None)
    if last is None or not settings.wants_digests:
        return False
    tz = settings.tz
    due = today_at(now, settings.digest_time, tz)
    return last < due <= now
