"""Relevance votes from the 👍/👎 buttons."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime

from monitor.core.timeutil import iso, parse_iso
from monitor.storage.base import StorageBase
from monitor.storage.records import VoteRow, VoteStatRow


class VotesMixin(StorageBase):
    def add_vote_target(self, hit_ids: Sequence[int], chat_id: str, now: datetime) -> str:
        """A short token (`<id>-<secret>`) for a button in `chat_id` that votes on these hits.

        The id finds the row; the random secret (64 bits) makes a token unguessable, and
        the token votes only from the chat it was sent to."""
        secret = secrets.token_urlsafe(8)
        cursor = self.db.execute(
            "INSERT INTO vote_targets (hit_ids, created_at, chat_id, secret) VALUES (?, ?, ?, ?)",
            (json.dumps(list(hit_ids)), iso(now), chat_id, secret),
        )
        return f"{cursor.lastrowid}-{secret}"

    def record_vote(self, token: str, chat_id: str, vote: str, now: datetime) -> int:
        """Store a chat's vote on the hits behind a button; a second vote replaces the first.
        Returns how many hits it applied to: 0 for an unknown, forged or foreign token, or
        for hits since removed."""
        row_id, _, secret = token.partition("-")
        if not row_id.isdigit() or not secret:
            return 0
        rows = self._rows(
            "SELECT hit_ids, chat_id, secret FROM vote_targets WHERE id = ?", (int(row_id),)
        )
        if not rows or rows[0]["chat_id"] != chat_id or rows[0]["secret"] is None:
            return 0
        if not secrets.compare_digest(rows[0]["secret"], secret):
            return 0
        raw = rows[0]["hit_ids"]
        with self.transaction():
            cursor = self.db.execute(
                """INSERT INTO votes (hit_id, chat_id, vote, voted_at)
                   SELECT h.id, ?, ?, ? FROM hits h WHERE h.id IN (SELECT value FROM json_each(?))
                   ON CONFLICT (hit_id, chat_id)
                   DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at""",
                (chat_id, vote, iso(now), raw),
            )
        return cursor.rowcount

    def votes(self, chat_id: str | None = None) -> list[VoteRow]:
        sql = "SELECT * FROM votes" + (" WHERE chat_id = ?" if chat_id else "")
        params = (chat_id,) if chat_id else ()
        return self._records(VoteRow, sql + " ORDER BY hit_id, chat_id", params)

    def vote_stats(self, since: datetime) -> list[VoteStatRow]:
        """Per watchlist, topic and term: hits since `since`, hits voted on, and the votes."""
        return self._records(
            VoteStatRow,
            """SELECT h.watchlist, h.topic, h.term, count(DISTINCT h.id) AS hits,
                 count(DISTINCT v.hit_id) AS voted,
                 coalesce(sum(v.vote = 'relevant'), 0) AS relevant,
                 coalesce(sum(v.vote = 'not_relevant'), 0) AS not_relevant
               FROM hits h LEFT JOIN votes v ON v.hit_id = h.id
               WHERE h.created_at >= ?
               GROUP BY h.watchlist, h.topic, h.term""",
            (iso(since),),
        )

    def last_change_at(self) -> datetime | None:
        """When the newest hit or vote was stored: archive pages older than this are stale."""
        return parse_iso(
            self._value(
                """SELECT max(coalesce((SELECT max(created_at) FROM hits), ''),
                     coalesce((SELECT max(voted_at) FROM votes), ''))"""
            )
            or None
        )
