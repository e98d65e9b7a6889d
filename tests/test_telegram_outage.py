"""`monitor run` with Telegram out of reach at start keeps polling, queues, and starts the
bot when Telegram answers (issue 16, item 6).

Before, after 4 attempts and about 30 s the worker exited 1 and no feed was fetched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from email.utils import format_datetime

from conftest import ROOT, db_count, prime_database, rss, wait_until
from fakes.bot_api import FakeBotAPI
from fakes.feed_server import FeedServer, Route

from monitor.storage import Store

CHAT = 424242


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_worker_polls_through_a_telegram_outage_and_delivers_after(tmp_path, sample_watchlists):
    port = free_port()
    item = {
        "title": "Mexico ends DEA immunity",
        "link": "https://w.example/1",
        "guid": "1",
        "pubDate": format_datetime(datetime.now(UTC)),
    }
    with FeedServer() as feeds:
        url = feeds.set("/wire.xml", Route(body=rss([item])))
        db = tmp_path / "monitor.db"
        prime_database(db, [url])
        store = Store(db)
        store.subscribe(str(CHAT), "sample", [], datetime.now(UTC))
        store.close()
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\npath = "monitor.db"\n[watchlists]\npath = "{sample_watchlists}"\n'
            f'[telegram]\nbase_url = "http://127.0.0.1:{port}/bot"\n'
            f'[digest]\nhtml_dir = "pages"\n[[feeds]]\nurl = "{url}"\n',
            encoding="utf-8",
        )
        fake = FakeBotAPI()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": fake.token}
        worker = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_until(lambda: db_count(db, "SELECT count(*) FROM articles") == 1, 30)
            assert worker.poll() is None, "the worker exited while Telegram was down"
            queued = db_count(db, "SELECT count(*) FROM outbox WHERE status = 'pending'")
            fake.start(port)
            try:
                assert wait_until(lambda: fake.sent_messages(CHAT), 30), "nothing delivered"
                # the bot itself is back too (the outbox may drain before it logs so)
                assert wait_until(lambda: fake.calls_to("getUpdates"), 30), "no bot polling"
            finally:
                worker.send_signal(signal.SIGTERM)
                _, err = worker.communicate(timeout=30)
                fake.stop()
        finally:
            if worker.poll() is None:
                worker.kill()
    assert queued == 1
    assert err.count("telegram unreachable") == 1, err  # logged once per state change
    assert err.count("telegram reachable again") == 1, err
    assert worker.returncode == 0 and "Traceback" not in err
