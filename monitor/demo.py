"""`monitor demo`: the whole pipeline offline, on bundled sample feeds.

Serves `monitor/demo/*` on 127.0.0.1 with the standard library's HTTP server
(which answers If-Modified-Since with 304), polls them into a temporary
database with the shipped watchlists, prints the alerts and the digest, then
polls again to show that nothing is stored or sent twice.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import tempfile
import threading
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .config import Config, DigestConfig, FeedConfig, StorageConfig, WatchlistsConfig
from .deliver.console import CONSOLE_CHAT
from .errors import UserError

DEMO_DIR = Path(__file__).parent / "demo"
DEMO_FEEDS = (
    ("wire-en.xml", "Demo Wire (EN)", "en"),
    ("prensa-es.xml", "Prensa Demo (ES)", "es"),
    ("analysis.atom", "Demo Analysis", None),
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


def serve_demo_feeds() -> tuple[ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(DEMO_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def run_demo(watchlists: Path, keep: Path | None) -> int:
    from .cli import build_runtime
    from .digestjob import queue_digest
    from .worker import deliver, poll_cycle, sync_config_feeds

    if not watchlists.exists():
        raise UserError(
            f"{watchlists}: watchlists not found",
            hint="run the demo from the project folder or pass --watchlists PATH",
        )
    logging.getLogger().setLevel(logging.WARNING)
    server, base = serve_demo_feeds()
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
        folder = keep or Path(tmp)
        config = Config(
            storage=StorageConfig(path=folder / "demo.db"),
            watchlists=WatchlistsConfig(path=watchlists),
            feeds=tuple(
                FeedConfig(url=base + name, name=title, lang=lang)
                for name, title, lang in DEMO_FEEDS
            ),
            digest=replace(DigestConfig(), html_dir=folder / "digests"),
        )
        rt = build_runtime(config)
        try:
            sync_config_feeds(rt)
            print(f"Serving {len(DEMO_FEEDS)} demo feeds at {base}; polling once...\n")
            first = asyncio.run(poll_cycle(rt))
            print(f"\nFirst cycle: {first.summary()}\n")
            queue_digest(rt, CONSOLE_CHAT, rt.clock())
            asyncio.run(deliver(rt))
            second = asyncio.run(poll_cycle(rt))
            print(f"\nSecond cycle (conditional GET): {second.summary()}")
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
