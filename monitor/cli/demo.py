"""`monitor demo`: the whole pipeline offline, on bundled sample feeds, on a fixed clock.

Serves copies of `monitor/cli/demo_feeds/*` on 127.0.0.1 with the standard library's HTTP
server (which answers If-Modified-Since with 304) and runs three cycles into a
temporary database with the shipped watchlists:

1. the feeds are new to the monitor: their items are its backlog, stored and
   digested but never sent as instant alerts;
2. half an hour later the outlets have published `demo_feeds/later/*.new`: instant
   alerts for the high-priority stories, and a surge alert for the story all
   three carry;
3. nothing new: every feed answers 304, nothing is stored or sent twice.

Then the day's digest. The clock is fixed (DEMO_START), so two runs print the
same thing, word for word.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from monitor.core.config import (
    Config,
    DigestConfig,
    FeedConfig,
    PollConfig,
    StorageConfig,
    WatchlistsConfig,
)
from monitor.core.errors import UserError
from monitor.core.outbox import CONSOLE_CHAT

DEMO_DIR = Path(__file__).parent / "demo_feeds"
DEMO_FEEDS = (
    ("wire-en.xml", "Demo Wire (EN)", "en"),
    ("prensa-es.xml", "Prensa Demo (ES)", "es"),
    ("analysis.atom", "Demo Analysis", None),
)
DEMO_START = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # after every bundled item
LATER = timedelta(minutes=30)


class DemoClock:
    """The demo's time: fixed, moved on by hand between cycles."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's
        pass


def serve_demo_feeds(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def publish_later_items(folder: Path) -> None:
    """The outlets publish: each served feed gets its `later/*.new` items on top, and a
    newer modification time, so the next conditional GET gets 200, not 304."""
    for name, _, _ in DEMO_FEEDS:
        served = folder / name
        text = served.read_text(encoding="utf-8")
        marker = "<entry>" if name.endswith(".atom") else "<item>"
        at = text.index(marker)
        news = (DEMO_DIR / "later" / f"{name}.new").read_text(encoding="utf-8")
        served.write_text(text[:at] + news.lstrip() + "  " + text[at:], encoding="utf-8")
        later = served.stat().st_mtime + 60
        os.utime(served, (later, later))


def run_demo(watchlists: Path, keep: Path | None) -> int:
    from monitor.pipeline.cycle import deliver, poll_cycle, sync_config_feeds
    from monitor.pipeline.digestjob import queue_digest
    from monitor.pipeline.runtime import build_runtime

    if not watchlists.exists():
        raise UserError(
            f"{watchlists}: watchlists not found",
            hint="run the demo from the project folder or pass --watchlists PATH",
        )
    logging.getLogger().setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
        folder = keep or Path(tmp)
        served = Path(tmp) / "served"
        served.mkdir()
        for name, _, _ in DEMO_FEEDS:
            shutil.copyfile(DEMO_DIR / name, served / name)
        server, base = serve_demo_feeds(served)
        config = Config(
            storage=StorageConfig(path=folder / "demo.db"),
            watchlists=WatchlistsConfig(path=watchlists),
            feeds=tuple(
                FeedConfig(url=base + name, name=title, lang=lang)
                for name, title, lang in DEMO_FEEDS
            ),
            digest=replace(DigestConfig(), html_dir=folder / "digests"),
            # one feed at a time, in this order: the same story from three outlets is
            # stored from the same one every run, so the output never changes
            poll=replace(PollConfig(), max_concurrency=1, per_host=1),
        )
        rt = build_runtime(config)
        clock = DemoClock(DEMO_START)
        rt.clock = clock
        try:
            sync_config_feeds(rt)
            print(f"Serving {len(DEMO_FEEDS)} demo feeds on 127.0.0.1 (offline).\n")
            first = asyncio.run(poll_cycle(rt))
            print(
                f"First cycle: {first.summary()}\n"
                "  (the feeds are new: their articles are a backlog, for the digest only,"
                " never instant alerts)\n"
            )
            publish_later_items(served)
            clock.now += LATER
            second = asyncio.run(poll_cycle(rt))
            print(f"\nSecond cycle, 30 minutes later: {second.summary()}\n")
            clock.now += LATER
            third = asyncio.run(poll_cycle(rt))
            print(f"Third cycle (conditional GET): {third.summary()}")
            queue_digest(rt, CONSOLE_CHAT, rt.clock())
            asyncio.run(deliver(rt))
            if keep:
                pages = sorted(config.digest.html_dir.glob("????-??-??.html"))
                print(f"Database: {config.storage.path}")
                print(f"Digest pages: {', '.join(str(p) for p in pages)}")
                settings = write_demo_config(folder, watchlists)
                print(f"Render a day again: monitor digest --config {settings} --html PAGE.html")
        finally:
            rt.store.close()
            server.shutdown()
            server.server_close()
    return 0


def write_demo_config(folder: Path, watchlists: Path) -> Path:
    """A config for the kept demo database, so `monitor digest` and `monitor stats` read it."""
    path = folder / "config.toml"
    path.write_text(
        '[storage]\npath = "demo.db"\n\n'
        f"[watchlists]\npath = {json.dumps(watchlists.resolve().as_posix())}\n\n"
        '[digest]\nhtml_dir = "digests"\n',
        encoding="utf-8",
    )
    return path
