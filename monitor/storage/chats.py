"""Chats and their subscriptions, mutes and digest bookkeeping."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.core.models import Subscription
from monitor.core.timeutil import iso
from monitor.storage.base import StorageBase
from monitor.storage.records import ChatRow


class ChatsMixin(StorageBase):
    def subscribe(self, chat_id: str, watchlist: str, topics: Sequence[str], now: datetime) -> None:
        with self.transaction():
            self.db.execute(
                """INSERT INTO subscriptions (chat_id, watchlist, topics, created_at, paused)
                   VALUES (?, ?, ?, ?, 0) ON CONFLICT (chat_id, watchlist)
                   DO UPDATE SET topics = excluded.topics, paused = 0""",
                (chat_id, watchlist, json.dumps(sorted(set(topics))), iso(now)),
            )
            self.db.execute(
                "INSERT OR IGNORE INTO chats (chat_id, created_at) VALUES (?, ?)",
                (chat_id, iso(now)),
            )
            self.db.execute("UPDATE chats SET blocked_at = NULL WHERE chat_id = ?", (chat_id,))

    def unsubscribe(self, chat_id: str, watchlist: str | None) -> int:
        with self.transaction():
            if watchlist is None:
                cursor = self.db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,))
            else:
                cursor = self.db.execute(
                    "DELETE FROM subscriptions WHERE chat_id = ? AND watchlist = ?",
                    (chat_id, watchlist),
                )
        return cursor.rowcount

    def subscriptions(
        self, chat_id: str | None = None, active_only: bool = False
    ) -> list[Subscription]:
        sql = """SELECT s.chat_id, s.watchlist, s.topics, s.paused, c.timezone, c.digest_time
                 FROM subscriptions s LEFT JOIN chats c ON c.chat_id = s.chat_id WHERE true"""
        params: list[Any] = []
        if chat_id is not None:
            sql += " AND s.chat_id = ?"
            params.append(chat_id)
        if active_only:
            sql += " AND s.paused = 0"
        rows = self._rows(sql + " ORDER BY s.chat_id, s.watchlist", params)
        return [
            Subscription(
                chat_id=r["chat_id"],
                watchlist=r["watchlist"],
                topics=tuple(json.loads(r["topics"])),
                paused=bool(r["paused"]),
                timezone=r["timezone"],
                digest_time=r["digest_time"],
            )
            for r in rows
        ]

    def subscribers_of(self, watchlist: str) -> list[str]:
        rows = self._rows(
            "SELECT chat_id FROM subscriptions WHERE watchlist = ? AND paused = 0 ORDER BY chat_id",
            (watchlist,),
        )
        return [r["chat_id"] for r in rows]

    def digest_chats(self) -> list[str]:
        """Chats with at least one active subscription: the ones that get a daily digest."""
        rows = self._rows(
            "SELECT DISTINCT chat_id FROM subscriptions WHERE paused = 0 ORDER BY chat_id"
        )
        return [r["chat_id"] for r in rows]

    def pause_chat(self, chat_id: str, now: datetime) -> None:
        """The chat blocked the bot or is gone: stop sending until it subscribes again."""
        with self.transaction():
            self.db.execute("UPDATE subscriptions SET paused = 1 WHERE chat_id = ?", (chat_id,))
            self.db.execute(
                "UPDATE chats SET blocked_at = ? WHERE chat_id = ?", (iso(now), chat_id)
            )

    def resume_chat(self, chat_id: str) -> int:
        """The chat is back (/start after a block): its paused subscriptions resume."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE subscriptions SET paused = 0 WHERE chat_id = ? AND paused = 1", (chat_id,)
            )
            self.db.execute("UPDATE chats SET blocked_at = NULL WHERE chat_id = ?", (chat_id,))
        return cursor.rowcount

    def chat(self, chat_id: str) -> ChatRow | None:
        return self._record(ChatRow, "SELECT * FROM chats WHERE chat_id = ?", (chat_id,))

    def update_chat(self, chat_id: str, now: datetime, **fields: Any) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO chats (chat_id, created_at) VALUES (?, ?)",
                (chat_id, iso(now)),
            )
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                self.db.execute(
                    f"UPDATE chats SET {sets} WHERE chat_id = ?", (*fields.values(), chat_id)
                )

    def muted_chats(self, now: datetime) -> set[str]:
        rows = self._rows("SELECT chat_id FROM chats WHERE muted_until > ?", (iso(now),))
        return {r["chat_id"] for r in rows}

    def migrate_chat(self, old_id: str, new_id: str, now: datetime) -> None:
        """A group became a supergroup (new id): its settings, subscriptions and queue follow."""
        with self.transaction():
            self.db.execute(
                """INSERT OR IGNORE INTO chats (chat_id, timezone, digest_time, muted_until,
                     last_digest_at, last_digest_hit_id, created_at)
                   SELECT ?, timezone, digest_time, muted_until, last_digest_at,
                     last_digest_hit_id, ? FROM chats WHERE chat_id = ?""",
                (new_id, iso(now), old_id),
            )
            self.db.execute(
                "UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
            )
            self.db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (old_id,))
            self.db.execute(
                "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status IN ('pending', 'held')",
                (new_id, old_id),
            )
            self.db.execute(  # the buttons of messages sent before still vote, as the new id
                "UPDATE vote_targets SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
            )

    def record_digest(
        self, chat_id: str, date: str, hit_count: int, last_hit_id: int, now: datetime
    ) -> None:
        """Remember what a chat's digest covered; the next one starts after `last_hit_id`."""
        self.db.execute(
            """INSERT OR IGNORE INTO digests (chat_id, date, created_at, hit_count, until,
                 last_hit_id) VALUES (?, ?, ?, ?, ?, ?)""",
            (chat_id, date, iso(now), hit_count, iso(now), last_hit_id),
        )
        self.db.execute(
            "UPDATE chats SET last_digest_at = ?, last_digest_hit_id = ? WHERE chat_id = ?",
            (iso(now), last_hit_id, chat_id),
        )
