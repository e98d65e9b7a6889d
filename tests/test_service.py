"""`monitor run` as a service: a real subprocess against a local feed server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from conftest import ROOT, SAMPLE_WATCHLIST, rss, wait_until
from fakes.feed_server import FeedServer, Route


def query(db: Path, sql: str) -> list[sqlite3.Row]:
    """Read the worker's database as an operator would, read-only; [] until it exists."""
    if not db.exists():
        return []
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # created but not migrated yet
        return []


def cycles(db: Path) -> list[dict]:
    return [dict(r) for r in query(db, "SELECT * FROM cycles WHERE finished_at IS NOT NULL")]


def hit_topics(db: Path) -> set[tuple[str, str]]:
    return {(r["article_id"], r["topic"]) for r in query(db, "SELECT article_id, topic FROM hits")}


def start_worker(
    tmp_path: Path, feed_url: str | list[str], watchlists: Path, parse_workers: int = 0
) -> subprocess.Popen:
    urls = [feed_url] if isinstance(feed_url, str) else feed_url
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "monitor.db"\n[watchlists]\npath = "{watchlists.as_posix()}"\n'
        "[poll]\ninterval_seconds = 1\njitter_seconds = 0\ntimeout_seconds = 2\n"
        f"parse_workers = {parse_workers}\n"
        + "".join(f'[[feeds]]\nurl = "{url}"\n' for url in urls),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_run_polls_reloads_survives_broken_watchlist_and_stops_on_sigterm(tmp_path):
    watchlists = tmp_path / "watchlists"
    watchlists.mkdir()
    sample = watchlists / "sample.toml"
    sample.write_text(SAMPLE_WATCHLIST, encoding="utf-8")
    db = tmp_path / "monitor.db"
    first_item = {"title": "Ken Salazar meets governors", "link": "https://e.org/1", "guid": "1"}
    with FeedServer() as server:
        url = server.set("/feed.xml", Route(body=rss([first_item])))
        worker = start_worker(tmp_path, url, watchlists)
        try:
            assert wait_until(lambda: len(cycles(db)) >= 3), "the worker did not poll repeatedly"
            runs = sorted(cycles(db), key=lambda c: c["id"])
            for earlier, later in zip(runs, runs[1:], strict=False):
                assert earlier["finished_at"] <= later["started_at"], "two cycles overlapped"
            assert hit_topics(db) == set()  # no topic for Salazar yet

            sample.write_text(
                SAMPLE_WATCHLIST + '\n[[topics]]\nid = "salazar"\ntitle = "S"\n'
                'terms = ["Ken Salazar"]\n',
                encoding="utf-8",
            )
            second = {
                "title": "Ken Salazar leaves Mexico City",
                "link": "https://e.org/2",
                "guid": "2",
            }
            server.set("/feed.xml", Route(body=rss([first_item, second])))
            assert wait_until(lambda: any(t == "salazar" for _, t in hit_topics(db))), (
                "the edited watchlist was not picked up"
            )

            sample.write_text("[watchlist\nbroken", encoding="utf-8")
            seen = len(cycles(db))
            assert wait_until(lambda: len(cycles(db)) >= seen + 2), (
                "a broken watchlist stopped polling"
            )
            assert worker.poll() is None

            worker.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = worker.wait(timeout=10)
            assert time.monotonic() - started < 5, "SIGTERM took too long"
            assert code == 0
        finally:
            if worker.poll() is None:
                worker.kill()
            _, err = worker.communicate(timeout=10)
    assert "watchlist reload rejected" in err and "sample.toml:1" in err
    assert "Traceback" not in err


def test_parse_workers_live_across_cycles_and_stop_on_sigterm(tmp_path):
    """Twenty feeds never polled start the workers at once; they stay for the next
    cycles (the same processes) and are gone when the service exits on SIGTERM."""
    from test_parsepool import children_of, running

    watchlists = tmp_path / "watchlists"
    watchlists.mkdir()
    (watchlists / "sample.toml").write_text(SAMPLE_WATCHLIST, encoding="utf-8")
    db = tmp_path / "monitor.db"
    with FeedServer() as server:
        urls = [
            server.set(
                f"/f{i}.xml",
                Route(
                    body=rss([{"title": f"Story {i} on Sheinbaum", "link": f"https://e.org/{i}"}])
                ),
            )
            for i in range(20)
        ]
        worker = start_worker(tmp_path, urls, watchlists, parse_workers=1)
        try:
            assert wait_until(lambda: len(cycles(db)) >= 1), "no cycle"
            pids = children_of(worker.pid)
            assert pids, "no parse workers"
            assert wait_until(lambda: len(cycles(db)) >= 3), "the worker did not poll again"
            assert pids <= children_of(worker.pid), "the workers were replaced between cycles"
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=10) == 0
            assert wait_until(lambda: not any(running(pid) for pid in pids), 5)
        finally:
            if worker.poll() is None:
                worker.kill()
            _, err = worker.communicate(timeout=10)
    assert "Traceback" not in err
    assert err.count("starting 1 parse workers") == 1
