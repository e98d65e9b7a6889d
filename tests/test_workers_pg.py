"""Several real `monitor run` processes on one PostgreSQL database (storage/postgres/
workers.py, pipeline/workers.py): they divide 300 local feeds, store each article once,
send each alert once, pick up a SIGKILLed worker's feeds after its lease, and hand
the bot lock over when its holder dies."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT, prime_feeds, wait_until

from monitor.storage.postgres import PgStore

FEEDS = 300
ITEMS = 3  # per feed, each its own article; and one story every feed carries
SHARED_TITLE = "Wire story: the Bicentennial Framework meeting in Washington this week"


WORDS = [
    "border",
    "cartel",
    "senate",
    "treaty",
    "agents",
    "embassy",
    "court",
    "ruling",
    "minister",
    "press",
    "summit",
    "customs",
    "pipeline",
    "harbor",
    "fentanyl",
    "reform",
    "vote",
    "marines",
    "drones",
    "bishop",
    "mayor",
    "union",
    "governor",
    "pilot",
    "archive",
    "budget",
    "satellite",
    "ranch",
    "convoy",
    "bridge",
    "tunnel",
    "desert",
]


def title(n: int) -> str:
    """Titles far enough apart that title dedupe (text/titles.py) never joins two."""
    rng = random.Random(n)
    return "DEA immunity: " + " ".join(rng.sample(WORDS, 6)) + f" ({n})"


def write_feeds(folder: Path) -> list[str]:
    folder.mkdir()
    urls = []
    for f in range(FEEDS):
        items = [
            f"<item><title>{title(f * ITEMS + i)}</title>"
            f"<link>https://news.example/{f}/{i}</link><description>Text {f} {i}</description>"
            "</item>"
            for i in range(ITEMS)
        ]
        items.append(
            f"<item><title>{SHARED_TITLE}</title><link>https://wire.example/story</link></item>"
        )
        path = folder / f"feed{f:03d}.xml"
        path.write_text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Feed '
            f"{f}</title>{''.join(items)}</channel></rss>",
            encoding="utf-8",
        )
        urls.append(path.as_uri())
    return urls


def setup(tmp_path: Path, url: str, watchlists: Path) -> tuple[Path, list[str]]:
    urls = write_feeds(tmp_path / "feeds")
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\n' for u in urls)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{url}"\n[watchlists]\npath = "{watchlists}"\n'
        "[poll]\ninterval_seconds = 4\njitter_seconds = 0\ncycle_deadline_seconds = 6\n"
        "parse_workers = 1\n"
        f'[digest]\nhtml_dir = "{tmp_path / "digests"}"\n{feeds}',
        encoding="utf-8",
    )
    store = PgStore(url)  # primed: the items are news that alerts, not a first backlog
    try:
        store.sync_feeds(((u, None, None) for u in urls), datetime(2026, 1, 1, tzinfo=UTC))
        prime_feeds(store)
    finally:
        store.close()
    return config, urls


def worker(config: Path, log: Path) -> subprocess.Popen:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=config.parent,
    )


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung worker fails below
            p.kill()


def value(url: str, sql: str) -> int:
    store = PgStore(url, migrate=False)
    try:
        return int(store.pg_value(sql) or 0)
    finally:
        store.close()


def outbox_summary(url: str) -> str:
    store = PgStore(url, migrate=False)
    try:
        rows = store.pg_rows(
            "SELECT status, kind, claimed_by IS NOT NULL AS claimed, count(*) AS n FROM outbox"
            " GROUP BY 1, 2, 3"
        )
        senders = store.pg_rows("SELECT * FROM outbox_senders")
        return f"outbox {rows}; senders {senders}"
    finally:
        store.close()


def all_polled(url: str) -> bool:
    return value(url, "SELECT count(*) FROM feeds WHERE polled_at IS NULL") == 0


def alerts_printed(logs: list[Path]) -> list[str]:
    return [
        line
        for log in logs
        for line in log.read_text(encoding="utf-8").splitlines()
        if line.startswith("  DEA immunity: ")
    ]


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_divide_the_feeds_and_store_and_alert_everything_once(
    tmp_path, pg_url, sample_watchlists, workers
):
    config, _ = setup(tmp_path, pg_url, sample_watchlists)
    logs = [tmp_path / f"worker{n}.log" for n in range(workers)]
    procs = [worker(config, log) for log in logs]
    try:
        assert wait_until(lambda: all_polled(pg_url), 120), "not every feed was polled"
        expected = FEEDS * ITEMS
        assert wait_until(
            lambda: value(pg_url, "SELECT count(*) FROM outbox WHERE status = 'sent'") >= expected,
            90,
        ), f"the alerts were not all sent: {outbox_summary(pg_url)}"
        polled = [value(pg_url, "SELECT count(*) FROM workers WHERE feeds_polled > 0")]
    finally:
        stop(procs)
    text = "".join(log.read_text(encoding="utf-8") for log in logs)
    assert "Traceback" not in text, text[-3000:]
    assert all(p.returncode == 0 for p in procs), text[-3000:]
    assert value(pg_url, "SELECT count(*) FROM articles") == FEEDS * ITEMS + 1  # the wire: once
    assert value(pg_url, "SELECT count(*) FROM article_feeds") == FEEDS * (ITEMS + 1)
    assert value(pg_url, "SELECT count(DISTINCT article_id) FROM hits") == FEEDS * ITEMS
    assert value(pg_url, "SELECT count(*) FROM outbox WHERE kind = 'alert'") == FEEDS * ITEMS
    printed = alerts_printed(logs)
    assert len(printed) == FEEDS * ITEMS and len(set(printed)) == FEEDS * ITEMS  # each once
    assert polled[0] >= 2, "one worker did all the work"
    assert value(pg_url, "SELECT count(*) FROM workers WHERE stopped_at IS NULL") == 0


def test_a_killed_workers_feeds_are_polled_after_its_lease_and_the_bot_moves(
    tmp_path, pg_url, sample_watchlists
):
    config, _ = setup(tmp_path, pg_url, sample_watchlists)
    logs = [tmp_path / f"worker{n}.log" for n in range(3)]
    first = worker(config, logs[0])
    procs = [first]
    try:
        # the first worker is alone: it holds the bot and claims every feed; killed mid-cycle
        assert wait_until(
            lambda: value(pg_url, "SELECT count(*) FROM workers WHERE holds_bot = 1") == 1, 60
        )
        assert wait_until(
            lambda: value(pg_url, "SELECT count(*) FROM feeds WHERE claimed_by IS NOT NULL") > 0,
            60,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        left = value(pg_url, "SELECT count(*) FROM feeds WHERE claimed_by IS NOT NULL")
        procs += [worker(config, log) for log in logs[1:]]
        assert wait_until(lambda: all_polled(pg_url), 120), "the dead worker's feeds waited"
        assert wait_until(
            lambda: (
                value(
                    pg_url,
                    "SELECT count(*) FROM workers WHERE holds_bot = 1 AND stopped_at IS NULL"
                    f" AND pid <> {first.pid}",
                )
                == 1
            ),
            60,
        ), "no worker took the bot over"
        expected = FEEDS * ITEMS
        assert wait_until(
            lambda: value(pg_url, "SELECT count(*) FROM outbox WHERE status = 'sent'") >= expected,
            90,
        )
    finally:
        stop(procs)
    assert value(pg_url, "SELECT count(*) FROM articles") == FEEDS * ITEMS + 1
    assert value(pg_url, "SELECT count(*) FROM outbox WHERE kind = 'alert'") == FEEDS * ITEMS
    printed = alerts_printed(logs)
    # a SIGKILL may repeat the one message a sender had in flight, nothing else
    assert len(set(printed)) == FEEDS * ITEMS and len(printed) <= FEEDS * ITEMS + 1
    assert left > 0  # it did die holding leases


BOT_LOCK_OBJID = 0x6E6D_0003  # storage/postgres/base.BOT_LOCK: pg_locks shows it as objid


def test_a_leader_that_loses_the_bot_lock_stops_and_another_takes_the_bot(
    tmp_path, pg_url, sample_watchlists
):
    """The bot-lock connection of the worker running the bot is cut (a database restart,
    a dropped link): the server frees the lock and another worker takes it. The first
    must not go on as a second bot: it stops, exits 1, and says why."""
    config, _ = setup(tmp_path, pg_url, sample_watchlists)
    logs = [tmp_path / f"worker{n}.log" for n in range(2)]
    procs = [worker(config, logs[0])]
    try:
        assert wait_until(
            lambda: value(pg_url, "SELECT count(*) FROM workers WHERE holds_bot = 1") == 1, 60
        )
        procs.append(worker(config, logs[1]))
        assert wait_until(lambda: value(pg_url, "SELECT count(*) FROM workers") == 2, 60)
        leader = value(pg_url, "SELECT pid FROM workers WHERE holds_bot = 1")
        assert leader == procs[0].pid
        cut = value(
            pg_url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
            f" WHERE locktype = 'advisory' AND objid = {BOT_LOCK_OBJID} AND granted",
        )
        assert cut == 1
        assert procs[0].wait(60) == 1, logs[0].read_text()[-3000:]
        assert "lost the bot lock" in logs[0].read_text()
        assert wait_until(
            lambda: (
                value(
                    pg_url,
                    "SELECT count(*) FROM workers WHERE holds_bot = 1 AND stopped_at IS NULL"
                    f" AND pid = {procs[1].pid}",
                )
                == 1
            ),
            60,
        ), "the other worker did not take the bot"
    finally:
        stop(procs)


def test_poll_once_is_a_worker_while_it_runs_and_leaves_no_claims(
    tmp_path, pg_url, sample_watchlists
):
    config, _ = setup(tmp_path, pg_url, sample_watchlists)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "poll", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.parent,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert all_polled(pg_url)
    # its claims ended as it stored each feed: a `monitor run` next to it need not wait
    assert value(pg_url, "SELECT count(*) FROM feeds WHERE claimed_by IS NOT NULL") == 0
    assert value(pg_url, "SELECT count(*) FROM workers") == 1
    # each feed once, though claimed in rounds and polled for longer than an interval (4 s)
    assert value(pg_url, "SELECT feeds_polled FROM workers WHERE stopped_at IS NOT NULL") == FEEDS
    assert "feeds_ok=300 " in done.stderr
    assert done.stderr.count("starting 1 parse workers") == 1  # for all the rounds
