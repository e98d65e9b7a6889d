"""The outbox: every message queued once, claimed by one sender per chat at a time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitor.core.models import OutboxMessage
from monitor.core.timeutil import iso
from monitor.storage.base import StorageBase


class OutboxMixin(StorageBase):
    def enqueue(
        self,
        chat_id: str,
        kind: str,
        dedupe_key: str,
        payload: dict,
        now: datetime,
        held: bool = False,
    ) -> bool:
        """Queue one message (held: it waits until the chat's mute is over); False when a
        message with this key was queued before."""
        with self.transaction():  # nested in the caller's when there is one
            cursor = self.db.execute(
                """INSERT OR IGNORE INTO outbox (chat_id, kind, dedupe_key, payload, status, attempts,
                     next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)""",
                (
                    chat_id,
                    kind,
                    dedupe_key,
                    json.dumps(payload, ensure_ascii=False),
                    "held" if held else "pending",
                    iso(now),
                    iso(now),
                ),
            )
        return cursor.rowcount > 0

    def outbox_key_exists(self, dedupe_key: str) -> bool:
        return bool(self._value("SELECT 1 FROM outbox WHERE dedupe_key = ?", (dedupe_key,)))

    # A sender takes a lease on a chat (`outbox_senders`), then claims that chat's rows one
    # at a time (status 'sending', claimed_by, claimed_until). Only the claimer may finish a
    # row, and every finish is guarded on the claim, so two processes draining one outbox
    # (`run` and a `poll --once`, or a second `run` by mistake) never send a row twice. A
    # sender that dies leaves its lease and its row in flight; both expire and the next
    # sender takes them, so a SIGKILL repeats at most the message that was in flight.
    def outbox_due_chats(self, now: datetime) -> list[str]:
        """Chats with a message due (or one whose sender's claim expired), oldest first."""
        rows = self._rows(
            """SELECT chat_id FROM outbox
               WHERE (status = 'pending' AND next_attempt_at <= :now)
                  OR (status = 'sending' AND claimed_until <= :now)
               GROUP BY chat_id ORDER BY min(id)""",
            {"now": iso(now)},
        )
        return [r["chat_id"] for r in rows]

    def claim_chat(self, chat_id: str, sender: str, now: datetime, until: datetime) -> bool:
        """Become the chat's only sender until `until`, unless another sender's lease on it
        is still running. Renewing one's own lease always succeeds."""
        with self.transaction():
            cursor = self.db.execute(
                """INSERT INTO outbox_senders (chat_id, claimed_by, claimed_until)
                   VALUES (:chat, :sender, :until)
                   ON CONFLICT (chat_id) DO UPDATE SET claimed_by = excluded.claimed_by,
                     claimed_until = excluded.claimed_until
                   WHERE outbox_senders.claimed_by = excluded.claimed_by
                      OR outbox_senders.claimed_until <= :now""",
                {"chat": chat_id, "sender": sender, "until": iso(until), "now": iso(now)},
            )
        return cursor.rowcount > 0

    def outbox_senders(self) -> set[str]:
        """Senders holding a chat or a message in flight."""
        rows = self._rows(
            """SELECT claimed_by FROM outbox_senders
               UNION SELECT claimed_by FROM outbox WHERE status = 'sending'"""
        )
        return {r["claimed_by"] for r in rows}

    def expire_sender(self, sender: str, now: datetime) -> int:
        """A sender known to be dead: its claims end now instead of when they run out."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE outbox_senders SET claimed_until = ? WHERE claimed_by = ?",
                (iso(now), sender),
            )
            cursor2 = self.db.execute(
                """UPDATE outbox SET claimed_until = ? WHERE status = 'sending'
                   AND claimed_by = ?""",
                (iso(now), sender),
            )
        return cursor.rowcount + cursor2.rowcount

    def release_chat(self, chat_id: str, sender: str) -> None:
        with self.transaction():
            self.db.execute(
                "DELETE FROM outbox_senders WHERE chat_id = ? AND claimed_by = ?",
                (chat_id, sender),
            )

    def claim_next(
        self, chat_id: str, sender: str, now: datetime, until: datetime
    ) -> OutboxMessage | None:
        """Claim the chat's next message, in queue order, while holding the chat's lease
        (renewed to `until`). None when the chat is not ours any more, its queue is empty,
        or its head is waiting for a retry: the messages behind a retry keep their place."""
        with self.transaction():
            if not self.claim_chat(chat_id, sender, now, until):
                return None
            rows = self._rows(
                """SELECT id, chat_id, kind, dedupe_key, payload, attempts, status,
                          next_attempt_at FROM outbox
                   WHERE chat_id = :chat AND (status = 'pending'
                      OR (status = 'sending' AND (claimed_until <= :now OR claimed_by = :sender)))
                   ORDER BY id LIMIT 1""",
                {"chat": chat_id, "now": iso(now), "sender": sender},
            )
            if not rows or (
                rows[0]["status"] == "pending" and (rows[0]["next_attempt_at"] or "") > iso(now)
            ):
                return None
            row = rows[0]
            self.db.execute(
                """UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_until = ?
                   WHERE id = ?""",
                (sender, iso(until), row["id"]),
            )
        return OutboxMessage(
            id=row["id"],
            chat_id=row["chat_id"],
            kind=row["kind"],
            dedupe_key=row["dedupe_key"],
            payload=json.loads(row["payload"]),
            attempts=row["attempts"],
        )

    def finish_sent(self, outbox_id: int, sender: str, now: datetime) -> bool:
        """The claimed message was delivered. False when the claim was lost (it expired
        and another sender took the row): then that sender may deliver it again."""
        return self._finish(outbox_id, sender, "sent", sent_at=iso(now), error=None)

    def finish_retry(
        self,
        outbox_id: int,
        sender: str,
        error: str,
        retry_at: datetime,
        counts_as_attempt: bool = True,
    ) -> bool:
        """Back in the queue, due at `retry_at`; a 429 ("later") is not an attempt."""
        return self._finish(
            outbox_id,
            sender,
            "pending",
            attempts_delta=int(counts_as_attempt),
            next_attempt_at=iso(retry_at),
            error=error,
        )

    def finish_failed(self, outbox_id: int, sender: str, error: str) -> bool:
        return self._finish(outbox_id, sender, "failed", error=error)

    def _finish(
        self, outbox_id: int, sender: str, status: str, attempts_delta: int = 1, **fields: Any
    ) -> bool:
        sets = "".join(f", {k} = ?" for k in fields)
        with self.transaction():
            cursor = self.db.execute(
                f"""UPDATE outbox SET status = ?, attempts = attempts + ?, claimed_by = NULL,
                      claimed_until = NULL{sets}
                    WHERE id = ? AND status = 'sending' AND claimed_by = ?""",
                (status, attempts_delta, *fields.values(), outbox_id, sender),
            )
        return cursor.rowcount > 0

    def fail_queue(self, chat_id: str, error: str) -> int:
        """Give up on every message still waiting for a chat that is gone; returns how many.
        A message another sender has in flight is left to that sender."""
        with self.transaction():
            cursor = self.db.execute(
                """UPDATE outbox SET status = 'failed', error = ?
                   WHERE chat_id = ? AND status IN ('pending', 'held')""",
                (error, chat_id),
            )
        return cursor.rowcount

    def release_held(self, now: datetime) -> int:
        """Alerts held while their chat was muted join its queue once the mute is over
        (it ran out, or /unmute); returns how many."""
        with self.transaction():
            cursor = self.db.execute(
                """UPDATE outbox SET status = 'pending', next_attempt_at = :now
                   WHERE status = 'held' AND chat_id NOT IN
                     (SELECT chat_id FROM chats WHERE muted_until > :now)""",
                {"now": iso(now)},
            )
        return cursor.rowcount

    def held_count(self, chat_id: str) -> int:
        return int(
            self._value(
                "SELECT count(*) FROM outbox WHERE chat_id = ? AND status = 'held'", (chat_id,)
            )
        )
