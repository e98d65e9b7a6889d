"""How long does the event loop stall while a 500-feed cycle stores its batches?

    python benchmarks/bench_loop_stall.py [--feeds 500] [--items 50]

In `monitor run` one event loop fetches feeds, answers the bot and drains the outbox,
while the cycle's writer thread holds SQLite's write lock for each batch of feeds.
Any database call made on the loop itself waits behind that lock, and the bot and
every send wait with it. This measures the loop's lag (a 5 ms sleep that wakes late)
in the same process during a first cycle of the feed farm (feed_farm.py), twice:

- baseline: the cycle alone (the loop's own work: fetching, handing results to the
  parse workers and the writer);
- with drains: the cycle while, every 200 ms, an alert is queued and the outbox is
  drained to the console (as the worker's drain job and the alerts of a busy cycle do).

Prints a markdown table: lag p50, p99 and max for each, and the ratio of the maxima.
Both runs use fresh databases on the same farm, in one process each, one after the
other, so the ratio survives a noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_feeds import CONFIG  # noqa: E402  the same poller settings as the feed benchmark

PROBE_SECONDS = 0.005
DRAIN_EVERY = 0.2


async def probe(lags: list[float], done: asyncio.Event) -> None:
    while not done.is_set():
        started = time.perf_counter()
        await asyncio.sleep(PROBE_SECONDS)
        lags.append(time.perf_counter() - started - PROBE_SECONDS)


async def drains(rt, done: asyncio.Event) -> int:
    from monitor.pipeline import cycle as worker

    sent = 0
    n = 0
    while not done.is_set():
        n += 1
        note = {"text": f"note {n}"}  # queued as a cycle's alert is, off the loop
        await asyncio.to_thread(
            rt.store.enqueue, "console", "notice", f"bench:{n}", note, rt.clock()
        )
        sent += (await worker.deliver(rt)).sent
        await asyncio.sleep(DRAIN_EVERY)
    return sent


async def measured_cycle(rt, with_drains: bool) -> dict:
    from monitor.pipeline import cycle as worker

    lags: list[float] = []
    done = asyncio.Event()
    probing = asyncio.create_task(probe(lags, done))
    draining = asyncio.create_task(drains(rt, done)) if with_drains else None
    started = time.perf_counter()
    report = await worker.poll_cycle(rt)
    wall = time.perf_counter() - started
    done.set()
    await probing
    sent = await draining if draining else 0
    lags.sort()
    return {
        "wall": wall,
        "articles": report.articles_new,
        "sent": sent,
        "p50_ms": 1000 * statistics.median(lags),
        "p99_ms": 1000 * lags[int(len(lags) * 0.99)],
        "max_ms": 1000 * lags[-1],
    }


def run_one(config_path: str, with_drains: bool) -> dict:
    """The poller side, in its own process."""
    from monitor.core.config import load_config
    from monitor.pipeline import cycle as worker
    from monitor.pipeline.runtime import build_runtime

    rt = build_runtime(load_config(config_path))
    rt.clock = lambda: datetime.now(UTC)
    worker.sync_config_feeds(rt)
    with contextlib.redirect_stdout(io.StringIO()):  # the console sink prints the notes
        row = asyncio.run(measured_cycle(rt, with_drains))
    rt.store.close()
    return row


def poller(farm_listing: dict, with_drains: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        text = CONFIG.format(db=Path(tmp) / "bench.db", watchlists=ROOT / "watchlists")
        text += "".join(f'[[feeds]]\nurl = "{f["url"]}"\n' for f in farm_listing["feeds"])
        config.write_text(text, encoding="utf-8")
        flag = "drains" if with_drains else "alone"
        out = subprocess.run(
            [sys.executable, __file__, "--run-one", str(config), flag],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--run-one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        print(json.dumps(run_one(args.run_one[0], args.run_one[1] == "drains")))
        return
    farm = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("feed_farm.py")),
            "--feeds",
            str(args.feeds),
            "--items",
            str(args.items),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        listing = json.loads(farm.stdout.readline())  # type: ignore[union-attr]
        alone = poller(listing, with_drains=False)
        busy = poller(listing, with_drains=True)
    finally:
        farm.terminate()
        farm.wait()
    print(f"{args.feeds} feeds × {args.items} items, first cycle\n")
    print("| run | wall s | articles | drained | lag p50 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, row in (("cycle alone (baseline)", alone), ("cycle + drains", busy)):
        print(
            f"| {name} | {row['wall']:.1f} | {row['articles']} | {row['sent']} "
            f"| {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['max_ms']:.0f} |"
        )
    print(f"\nmax lag with drains / alone: {busy['max_ms'] / max(alone['max_ms'], 0.1):.1f}×")


if __name__ == "__main__":
    main()
