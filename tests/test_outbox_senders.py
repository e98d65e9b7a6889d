"""One outbox, any number of senders: real `monitor` processes against the fake Bot API
(issue 13).

Before the claimed outbox, `monitor run` draining 64 alerts while an operator ran
`monitor poll --once` on the same config delivered 4 of them twice: the "chat being
sent to" guard lived in one process's memory. Now a sender leases a chat in the
database, claims its rows one at a time, and may finish only its own claims, so every
(chat, article) arrives exactly once; and a SIGKILL mid-drain repeats at most the
messages that were in flight (one per chat), because the restarted worker finds the
dead sender's claims and takes them over at once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from conftest import ROOT, db_count, prime_database, rss, wait_until
from fakes.bot_api import FakeBotAPI
from fakes.feed_server import FeedServer, Route

from monitor.storage import Store

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CHATS = [7001 + n for n in range(8)]
ARTICLES = 8
STORY = re.compile(r"Story (\d+) of the day")


def setup(tmp_path: Path, feeds: FeedServer, sample_watchlists: Path, fake: FakeBotAPI) -> Path:
    now = format_datetime(datetime.now(UTC))
    items = [
        {
            "title": f"Story {n} of the day: Mexico ends DEA immunity",
            "link": f"https://w.example/{n}",
            "guid": f"g{n}",
            "pubDate": now,
        }
        for n in range(ARTICLES)
    ]
    url = feeds.set("/wire.xml", Route(body=rss(items)))
    db = tmp_path / "monitor.db"
    prime_database(db, [url])
    store = Store(db)
    try:
        for chat in CHATS:
            store.subscribe(str(chat), "sample", [], datetime.now(UTC))
    finally:
        store.close()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "monitor.db"\n[watchlists]\npath = "{sample_watchlists}"\n'
        f'[telegram]\nbase_url = "{fake.base_url}"\n'
        f'[digest]\nhtml_dir = "pages"\n[[feeds]]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return config


def monitor(config: Path, fake: FakeBotAPI, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": fake.token}
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args, "--config", str(config)],
        cwd=config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def deliveries(fake: FakeBotAPI) -> Counter:
    """(chat, story number) -> how many times it arrived."""
    seen: Counter = Counter()
    for chat in CHATS:
        for message in fake.sent_messages(chat):
            found = STORY.search(message["_plain"])
            if found:
                seen[chat, int(found.group(1))] += 1
    return seen


def stop(worker: subprocess.Popen) -> str:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        _, err = worker.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        _, err = worker.communicate()
    return err


def everything_sent(db: Path) -> bool:
    waiting = db_count(db, "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
    return db_count(db, "SELECT count(*) FROM outbox") > 0 and waiting == 0


def test_run_and_poll_once_drain_one_outbox_and_each_alert_arrives_once(
    tmp_path, sample_watchlists
):
    fake = FakeBotAPI()
    fake.answer_delay["sendMessage"] = 0.4  # slow answers: the two drains overlap
    with fake, FeedServer() as feeds:
        config = setup(tmp_path, feeds, sample_watchlists, fake)
        db = config.parent / "monitor.db"
        worker = monitor(config, fake, "run")
        try:
            assert wait_until(lambda: len(fake.calls_to("sendMessage")) >= 4, 60), "no drain"
            operator = monitor(config, fake, "poll", "--once")  # the same config, meanwhile
            _, operator_err = operator.communicate(timeout=120)
            assert wait_until(lambda: everything_sent(db), 120), "the outbox did not drain"
        finally:
            err = stop(worker)
    seen = deliveries(fake)
    assert operator.returncode == 0, operator_err
    assert worker.returncode == 0 and "Traceback" not in err + operator_err, err
    assert set(seen) == {(chat, n) for chat in CHATS for n in range(ARTICLES)}  # nothing lost
    assert [k for k, times in seen.items() if times > 1] == []  # nothing twice
    assert db_count(db, "SELECT count(*) FROM outbox WHERE status = 'sent'") == 64


def test_sigkill_mid_drain_then_restart_repeats_only_what_was_in_flight(
    tmp_path, sample_watchlists
):
    fake = FakeBotAPI()
    fake.answer_delay["sendMessage"] = 0.4
    with fake, FeedServer() as feeds:
        config = setup(tmp_path, feeds, sample_watchlists, fake)
        db = config.parent / "monitor.db"
        victim = monitor(config, fake, "run")
        try:
            assert wait_until(lambda: len(fake.calls_to("sendMessage")) >= 12, 60), "no drain"
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=30)
            calls_at_kill = len(fake.calls_to("sendMessage"))
        finally:
            if victim.poll() is None:
                victim.kill()
        restarted = monitor(config, fake, "run")
        began = time.monotonic()
        try:
            # the dead sender's claims are taken over at once, not after they run out
            assert wait_until(lambda: len(fake.calls_to("sendMessage")) > calls_at_kill, 30), (
                "the restarted worker waited for the dead sender's leases"
            )
            assert wait_until(lambda: everything_sent(db), 120), "the outbox did not drain"
            took = time.monotonic() - began
        finally:
            err = stop(restarted)
    assert victim.returncode == -signal.SIGKILL
    seen = deliveries(fake)
    assert set(seen) == {(chat, n) for chat in CHATS for n in range(ARTICLES)}  # nothing lost
    repeats = sum(times - 1 for times in seen.values())
    assert repeats <= len(CHATS), seen  # at most the one message in flight per chat
    assert took < 60 and "Traceback" not in err, err


def test_sigterm_waits_for_the_sends_in_flight_as_long_as_a_send_may_take(
    tmp_path, sample_watchlists
):
    """Telegram takes 12 s to answer (within the 20 s send timeout). SIGTERM mid-send: the
    messages in flight finish and are recorded as sent, the rest wait, the worker exits 0,
    and the next run sends each remaining message once. Before, the cycle's drain went on
    after SIGTERM through its 60 s budget: the worker was still sending a minute later and
    had to be killed, leaving delivered messages marked in flight, to be sent again."""
    fake = FakeBotAPI()
    fake.answer_delay["sendMessage"] = 12
    with fake, FeedServer() as feeds:
        config = setup(tmp_path, feeds, sample_watchlists, fake)
        db = config.parent / "monitor.db"
        worker = monitor(config, fake, "run")
        try:
            assert wait_until(lambda: len(fake.calls_to("sendMessage")) >= len(CHATS), 60)
        finally:
            err = stop(worker)
        assert worker.returncode == 0, err[-2000:]
        in_flight = db_count(db, "SELECT count(*) FROM outbox WHERE status = 'sending'")
        assert in_flight == 0, err[-2000:]
        fake.answer_delay.clear()
        rerun = monitor(config, fake, "poll", "--once")
        rerun.communicate(timeout=90)
        assert everything_sent(db)
    assert set(deliveries(fake).values()) == {1}
    assert len(deliveries(fake)) == len(CHATS) * ARTICLES
