"""Issue 12, findings 7 and 11: one chat's flood, or another process's write lock, never
leaves the other chats without an answer, and the worker still stops at once.

Before: 500 commands from a chat not in `allowed_chats` left an allowed chat without
any answer for 150 s, SIGTERM took 200 s, and a write lock held by another process
froze /help for every chat for 60 s.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace

from test_bot import CHAT, OTHER, running_bot

from monitor.bot import app as bot
from monitor.bot import talk
from monitor.cli.botmode import build_telegram_runtime
from monitor.core.config import TelegramConfig
from monitor.delivery.ratelimit import Limits
from monitor.pipeline.cycle import sync_config_feeds

UNLISTED = 999001


def runtime(config, clock, fake, allowed=()):
    config = replace(config, telegram=TelegramConfig(base_url=fake.base_url, allowed_chats=allowed))
    rt = build_telegram_runtime(config, fake.token, limits=Limits())  # Telegram's real pace
    rt.clock = clock
    sync_config_feeds(rt)
    return rt


async def answered_within(fake, chat: int, text: str, seconds: float) -> float:
    before = len(fake.sent_messages(chat))
    started = time.monotonic()
    fake.push_message(chat, text)
    assert await fake.wait_for_async(lambda: len(fake.sent_messages(chat)) > before, seconds)
    return time.monotonic() - started


def test_a_flood_from_an_unlisted_chat_costs_one_reply_and_delays_nobody(config, clock, fake):
    rt = runtime(config, clock, fake, allowed=(CHAT,))

    async def scenario():
        async with running_bot(rt, fake) as app:
            for _ in range(500):
                fake.push_message(UNLISTED, "/help")
            await asyncio.sleep(0.5)
            waited = await answered_within(fake, CHAT, "/help", 2)
            await asyncio.sleep(1)
            stopping = time.monotonic()
        return waited, time.monotonic() - stopping, app

    waited, stop_took, _ = asyncio.run(scenario())
    assert waited < 2
    assert len(fake.sent_messages(UNLISTED)) == 1  # "not allowed", once an hour
    assert stop_took < 5


def test_a_flood_from_an_allowed_chat_is_bounded_and_others_are_answered(config, clock, fake):
    rt = runtime(config, clock, fake)

    async def scenario():
        async with running_bot(rt, fake):
            for _ in range(200):
                fake.push_message(OTHER, "/help")
            await asyncio.sleep(0.5)
            waited = await answered_within(fake, CHAT, "/help", 2)
            stopping = time.monotonic()
        return waited, time.monotonic() - stopping

    waited, stop_took = asyncio.run(scenario())
    assert waited < 2
    # one chat holds at most CHAT_BACKLOG updates; the rest of its flood is dropped
    assert len(fake.sent_messages(OTHER)) <= 2 * bot.CHAT_BACKLOG
    assert stop_took < 5


HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE feeds SET title = title")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def test_a_write_lock_held_by_another_process_freezes_nothing(config, clock, fake, monkeypatch):
    """/subscribe hears "one moment" and then its answer; /help from another chat meanwhile
    is answered at once."""
    monkeypatch.setattr(talk, "BUSY_NOTICE_SECONDS", 0.5)
    rt = runtime(config, clock, fake)
    rt.store.busy_timeout = 1.0  # new connections (the bot's threads) wait 1 s per attempt
    rt.store.close()  # reopen lazily with the shorter timeout
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(config.storage.path), "2.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"

        async def scenario():
            async with running_bot(rt, fake):
                fake.push_message(CHAT, "/subscribe sample")
                help_took = await answered_within(fake, OTHER, "/help", 1)
                assert await fake.wait_for_async(lambda: len(fake.sent_messages(CHAT)) >= 2, 10)
                return help_took

        help_took = asyncio.run(scenario())
    finally:
        holder.wait(10)
    first, second = (m["_plain"] for m in fake.sent_messages(CHAT)[:2])
    assert help_took < 1
    assert first.startswith("One moment: the database is busy")
    assert "Subscribed to sample" in second
    assert [s.watchlist for s in rt.store.subscriptions(str(CHAT))] == ["sample"]
    with sqlite3.connect(config.storage.path) as db:  # and nothing was left locked
        db.execute("BEGIN IMMEDIATE")
