"""Does the outbox drain at Telegram's pace when it is huge, and does the bot still answer?

    python benchmarks/bench_outbox.py [--chats 1000] [--per-chat 200] [--seconds 20]

A database with chats × per-chat queued messages (200,000 by default: a busy day for
1,000 subscribers), drained for `--seconds` through a sink behind the real Telegram
rate limits (`SendGate`: 1 message a second per chat, 30 a second overall; each send
takes 20 ms, as a fast Bot API would). Meanwhile, every 250 ms, a "bot reply" does
what a command handler does: a database read off the event loop (`Store.status_counts`, what /status reads).
Measured: messages sent per second, and the reply latency (p50 / max). The baseline,
in the same run, is the same drain over a small outbox (chats × 2 messages), so the
ratio says what the backlog's size costs. Issue 12, finding 6: before the claimed
outbox and its index, 200,000 rows drained at 0.7 messages/s and /help took 61-64 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.core.models import OutboxMessage  # noqa: E402
from monitor.delivery.drain import DrainState, drain_outbox  # noqa: E402
from monitor.delivery.ratelimit import SendGate  # noqa: E402
from monitor.storage import Store  # noqa: E402

SEND_SECONDS = 0.02


class PacedSink:
    """Telegram's limits without Telegram: the gate decides, the send takes 20 ms."""

    name = "paced"

    def __init__(self) -> None:
        self.gate = SendGate()

    def accepts(self, chat_id: str) -> bool:
        return True

    def ready_in(self, chat_id: str) -> float:
        return self.gate.ready_in(chat_id)

    async def send(self, message: OutboxMessage) -> None:
        async with self.gate.slot(message.chat_id):
            await asyncio.sleep(SEND_SECONDS)


def fill(store: Store, chats: int, per_chat: int) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = (
        (str(1000 + c), "notice", f"bench:{c}:{n}", json.dumps({"text": f"m{n}"}), now, now)
        for n in range(per_chat)
        for c in range(chats)
    )
    with store.transaction():
        store.db.conn.executemany(
            """INSERT INTO outbox (chat_id, kind, dedupe_key, payload, status, attempts,
                 next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)""",
            rows,
        )


async def measure(store: Store, seconds: float) -> dict:
    sink, state = PacedSink(), DrainState()
    replies: list[float] = []
    sent = 0
    deadline = time.monotonic() + seconds

    async def bot() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await asyncio.to_thread(store.status_counts, datetime.now(UTC))
            replies.append(time.perf_counter() - started)
            await asyncio.sleep(0.25)

    replying = asyncio.create_task(bot())
    started = time.monotonic()
    while time.monotonic() < deadline:
        state.budget_seconds = max(deadline - time.monotonic(), 0.1)
        report = await drain_outbox(store, [sink], lambda: datetime.now(UTC), state=state)
        sent += report.sent
        if not report.sent:
            await asyncio.sleep(0.2)
    elapsed = time.monotonic() - started
    await replying
    return {
        "rate": sent / elapsed,
        "reply_p50": statistics.median(replies),
        "reply_max": max(replies),
    }


def run(chats: int, per_chat: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        try:
            filled = time.perf_counter()
            fill(store, chats, per_chat)
            row = asyncio.run(measure(store, seconds))
            row["fill_s"] = time.perf_counter() - filled
            return row
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--per-chat", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    small = run(args.chats, 2, args.seconds)
    big = run(args.chats, args.per_chat, args.seconds)
    print(f"{args.chats} chats, drained for {args.seconds:.0f} s at Telegram's limits\n")
    print("| outbox | sent msg/s | reply p50 ms | reply max ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, row in (
        (f"{args.chats * 2:,} rows (baseline)", small),
        (f"{args.chats * args.per_chat:,} rows", big),
    ):
        print(
            f"| {name} | {row['rate']:.1f} | {1000 * row['reply_p50']:.0f} "
            f"| {1000 * row['reply_max']:.0f} |"
        )
    print(f"\nrate, big / baseline: {big['rate'] / small['rate']:.2f}×")


if __name__ == "__main__":
    main()
