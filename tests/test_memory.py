"""Memory a cycle freed goes back to the system (glibc's malloc_trim)."""

from __future__ import annotations

import asyncio
import platform
from pathlib import Path

import pytest

from monitor.core import memory
from monitor.pipeline import scheduler

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="needs glibc"
)


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


@glibc
def test_freed_heap_memory_is_returned():
    # 1 KB objects come from malloc's heap, not from mmap; the last one keeps the top of
    # the heap in use, so malloc cannot shrink it by itself when the rest is freed
    blocks = [bytes(1000) + bytes([n % 256]) for n in range(150_000)]
    pinned = blocks[-1]
    del blocks
    before = rss_mb()
    assert memory.give_back_free_memory()
    after = rss_mb()
    assert before - after > 60, (before, after)
    assert pinned


def test_the_service_gives_memory_back_after_each_cycle_even_a_failed_one(monkeypatch):
    calls = []

    async def failing_cycle(rt):
        calls.append("cycle")
        raise RuntimeError("feed store broke")

    monkeypatch.setattr(scheduler, "poll_cycle", failing_cycle)
    monkeypatch.setattr(scheduler, "give_back_free_memory", lambda: calls.append("trim"))
    with pytest.raises(RuntimeError):
        asyncio.run(scheduler._poll(object()))
    assert calls == ["cycle", "trim"]


def test_a_console_poll_on_sqlite_loads_neither_telegram_nor_psycopg(tmp_path):
    """python-telegram-bot (8 MB) and psycopg (9 MB) load only where they are used: with a
    token, with `[storage] url`. A console poll on SQLite runs the whole pipeline without."""
    import os
    import subprocess
    import sys

    from conftest import ROOT, rss
    from fakes.feed_server import FeedServer, Route

    script = (
        "import sys\n"
        "from monitor.cli.main import main\n"
        "code = main(['poll', '--once', '--config', sys.argv[1]])\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'telegram', 'psycopg'}))\n"
    )
    watchlists = ROOT / "watchlists"
    with FeedServer() as server:
        url = server.set("/f.xml", Route(body=rss([{"title": "Sheinbaum on DEA immunity"}])))
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\npath = "m.db"\n[watchlists]\npath = "{watchlists.as_posix()}"\n'
            f'[[feeds]]\nurl = "{url}"\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
        env["PYTHONPATH"] = str(ROOT)
        done = subprocess.run(
            [sys.executable, "-c", script, str(config)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
    assert "articles_new=1" in done.stderr or "1 new" in done.stderr, done.stderr


@glibc
def test_malloc_keeps_two_arenas_unless_the_operator_said_otherwise(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory.limit_malloc_arenas()
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not memory.limit_malloc_arenas()


def test_the_service_and_a_poll_limit_the_arenas_before_anything_runs(monkeypatch, tmp_path):
    from monitor.cli import run
    from monitor.core.config import Config

    calls = []
    monkeypatch.setattr(run, "limit_malloc_arenas", lambda: calls.append("arenas"))

    def refuse(*args, **kwargs):
        calls.append("runtime")
        raise RuntimeError("stop here")

    monkeypatch.setattr(run, "build_runtime", refuse)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    for command in (run.run_worker, run.poll_once):
        with pytest.raises(RuntimeError):
            asyncio.run(command(Config()))
    assert calls == ["arenas", "runtime"] * 2
