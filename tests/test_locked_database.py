"""Another process holds the database's write lock: every command either does its work
(reads never wait for a writer in WAL mode) or says "busy" in one line and exits 1,
never a traceback (issue 13: raw sqlite3 errors escaped as tracebacks)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import prime_database, rss, run_monitor
from fakes.feed_server import FeedServer, Route

WRITERS = [  # each must write, so each must wait for the lock and then give up
    ("poll", "--once"),
    ("feeds", "remove", "{url2}"),
    ("feeds", "add", "{url3}"),
]
READERS = [
    ("status",),
    ("digest",),
    ("stats",),
    ("feeds", "list"),
    ("backtest", "{watchlists}"),
]


@pytest.fixture
def locked(tmp_path, sample_watchlists):
    items = [{"title": "Mexico ends DEA immunity", "link": "https://w.example/1", "guid": "1"}]
    with FeedServer() as feeds:
        url = feeds.set("/wire.xml", Route(body=rss(items)))
        url2 = feeds.set("/other.xml", Route(body=rss(items)))
        url3 = feeds.set("/third.xml", Route(body=rss(items)))
        db = tmp_path / "monitor.db"
        prime_database(db, [url])
        (tmp_path / "config.toml").write_text(
            f'[storage]\npath = "monitor.db"\nbusy_timeout_seconds = 0.5\n'
            f'[watchlists]\npath = "{sample_watchlists}"\n[digest]\nhtml_dir = "pages"\n'
            f'[[feeds]]\nurl = "{url}"\n',
            encoding="utf-8",
        )
        assert run_monitor("poll", "--once", cwd=tmp_path).returncode == 0
        assert run_monitor("feeds", "add", url2, cwd=tmp_path).returncode == 0
        holder = subprocess.Popen(  # another process, in a write transaction until told
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
                    import sqlite3, sys
                    conn = sqlite3.connect({str(db)!r}, isolation_level=None)
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("UPDATE feeds SET title = title")
                    print("locked", flush=True)
                    sys.stdin.readline()
                    conn.execute("ROLLBACK")
                """),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "locked"
            yield tmp_path, {"url2": url2, "url3": url3, "watchlists": str(sample_watchlists)}
        finally:
            holder.communicate("done\n", timeout=10)


@pytest.mark.parametrize("command", WRITERS, ids=" ".join)
def test_a_command_that_must_write_says_busy_in_one_line(locked, command):
    cwd, values = locked
    result = run_monitor(*(part.format(**values) for part in command), cwd=cwd)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "busy" in lines[0] and "monitor.db" in lines[0], lines
    assert len([line for line in lines if not line.startswith("hint:")]) == 1, lines


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_command_that_only_reads_does_not_wait_for_the_writer(locked, command):
    cwd, values = locked
    result = run_monitor(*(part.format(**values) for part in command), cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
