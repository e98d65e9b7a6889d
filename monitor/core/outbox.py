"""The outbox's vocabulary: message kinds, dedupe keys, and the console's chat id.

Every message is queued once under its dedupe key (`outbox.dedupe_key` is
UNIQUE), so a re-run, a retry or a second worker never queues it twice. The
keys are built here only: a surge looks for the alert key of the same story,
so both must come from the same function.
"""

from __future__ import annotations

CONSOLE_CHAT = "console"  # the chat id of stdout: alerts and digests when Telegram is off

ALERT = "alert"  # an instant alert: one story, one chat
SURGE = "surge"  # a story several outlets carried: an alert once it spreads
DIGEST = "digest"  # the daily digest, or /digest's preview (one row per message part)
NOTICE = "notice"  # an operator notice: a watchlist edit rejected, a watchlist removed


def alert_key(chat_id: str, article_id: str) -> str:
    return f"alert:{chat_id}:{article_id}"


def surge_key(chat_id: str, article_id: str) -> str:
    return f"surge:{chat_id}:{article_id}"


def digest_key(chat_id: str, date: str, zone: str | None = None) -> str:
    """A chat's digest for a local date; `zone` tells apart a second digest the same date
    after the chat moved to another time zone."""
    return f"digest:{chat_id}:{date}" + (f"@{zone}" if zone else "")


def digest_now_key(chat_id: str, request: str, part: int) -> str:
    """/digest: `request` is the Telegram update id, so a re-delivered command queues nothing."""
    return f"digest-now:{chat_id}:{request}:{part}"


def part_key(key: str, part: int) -> str:
    """The key of a digest's `part`-th message (the first is the key itself)."""
    return key if part <= 1 else f"{key}:{part}"


def rejected_watchlists_key(chat_id: str, at: str, errors_digest: str) -> str:
    return f"notice:watchlists:{chat_id}:{at}:{errors_digest}"


def removed_watchlist_key(chat_id: str, watchlist: str, at: str) -> str:
    return f"notice:removed:{chat_id}:{watchlist}:{at}"
