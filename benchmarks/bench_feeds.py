"""How does a poll cycle scale? 500 and 2,000 feeds of 50 items from a local feed farm.

    python benchmarks/bench_feeds.py [--sizes 500,2000] [--quick] [--parse-workers N]

For each size, in fresh processes: the farm (feed_farm.py: fast, no-validator,
slow, failing, hanging and HTML feeds spread over many loopback hosts) and
the poller, which runs the real `poll_cycle` twice with the shipped
watchlists into a new database:

- cycle 1: everything is new (parse, dedupe, store, match, queue alerts);
- cycle 2: the farm's second generation: most feeds answer 304, 5% of them
  publish 5 new items, no-validator feeds send the same body again.

Measured per cycle, in the poller process: wall time; CPU time of the process
and of its parse workers (getrusage SELF + CHILDREN; the workers live for one
cycle and are reaped at its end); peak RSS of the poller (VmHWM, reset between
cycles through /proc/self/clear_refs) and of the largest worker; and when the
last feed that answers promptly was stored, to show slow and hanging feeds
hold up nobody. The poller's timeout is 10 s, so the hanging feeds set the
floor of the cycle's wall time. Before the first size and after each, the
parent times `parse_feed` on farm feeds (one core): this VM's speed drifts by
a third from hour to hour, and the baseline says how fast it was then.
Prints a markdown table; benchmarks/README.md holds a copy of a run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

PROMPT_KINDS = {"fast", "no-validators", "failing", "html"}
CONFIG = """\
[storage]
path = "{db}"
[watchlists]
path = "{watchlists}"
[poll]
timeout_seconds = 10
per_host = 4
jitter_seconds = 0
parse_workers = {parse_workers}
[logging]
level = "ERROR"
"""


def reset_peak_rss() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_cycles(config_path: str, kinds: dict[str, str], control: str) -> list[dict]:
    """The poller side: two cycles, measured. Runs in its own process."""
    from monitor.core.config import load_config
    from monitor.delivery.console import ConsoleSink
    from monitor.pipeline import cycle as worker
    from monitor.pipeline import storefeed
    from monitor.pipeline.runtime import build_runtime

    rt = build_runtime(load_config(config_path))
    rt.sinks = [s for s in rt.sinks if not isinstance(s, ConsoleSink)]  # count, don't print
    worker.sync_config_feeds(rt)
    stored_at: dict[str, float] = {}
    original = storefeed.store_feed

    def timed(rt_, item, report):
        original(rt_, item, report)
        stored_at[item.result.feed.url] = time.perf_counter()

    storefeed.store_feed = timed
    rows = []
    for cycle in (1, 2):
        if cycle == 2:
            urllib.request.urlopen(control).read()
        stored_at.clear()
        reset_peak_rss()
        cpu_self, cpu_children = (
            cpu_seconds(resource.RUSAGE_SELF),
            cpu_seconds(resource.RUSAGE_CHILDREN),
        )
        started = time.perf_counter()
        report = asyncio.run(worker.poll_cycle(rt))
        wall = time.perf_counter() - started
        prompt = [t - started for url, t in stored_at.items() if kinds[url] in PROMPT_KINDS]
        rows.append(
            {
                "cycle": cycle,
                "wall": wall,
                "cpu_main": cpu_seconds(resource.RUSAGE_SELF) - cpu_self,
                "cpu_workers": cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_children,
                "rss_main": peak_rss_mb(),
                "rss_worker": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                "prompt_done": max(prompt, default=0.0),
                "feeds_ok": report.feeds_ok,
                "not_modified": report.feeds_not_modified,
                "failed": report.feeds_failed,
                "articles": report.articles_new,
                "hits": report.hits_new,
                "alerts": report.alerts_queued,
            }
        )
    rt.store.close()
    return rows


def parse_baseline_ms(items: int, feeds: int = 20, rounds: int = 3) -> float:
    """This machine's speed right now: milliseconds of CPU for `parse_feed` of one farm
    feed, in this process, best of `rounds`. The VM's speed drifts by a third from hour
    to hour; measured next to the cycles, it says which speed they ran at."""
    from datetime import UTC, datetime

    from feed_farm import build_farm

    from monitor.core.models import Feed, FetchResult
    from monitor.feeds.parse import parse_feed

    bodies = [f.bodies[1][0] for f in build_farm(feeds, 5, items) if f.bodies]
    now = datetime.now(UTC)
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for i, body in enumerate(bodies):
            parse_feed(FetchResult(Feed(f"https://farm.test/{i}"), 200, body), now)
        best = min(best, (time.process_time() - started) / len(bodies))
    return best * 1000


def bench_size(feeds: int, items: int, workers: int = 0) -> list[dict]:
    farm = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("feed_farm.py")),
            "--feeds",
            str(feeds),
            "--items",
            str(items),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        listing = json.loads(farm.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.toml"
            text = CONFIG.format(
                db=Path(tmp) / "bench.db", watchlists=ROOT / "watchlists", parse_workers=workers
            )
            text += "".join(f'[[feeds]]\nurl = "{f["url"]}"\n' for f in listing["feeds"])
            config.write_text(text, encoding="utf-8")
            kinds = Path(tmp) / "kinds.json"
            kinds.write_text(json.dumps({f["url"]: f["kind"] for f in listing["feeds"]}))
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--run-cycles",
                    str(config),
                    str(kinds),
                    listing["control"],
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        farm.terminate()
        farm.wait()


def table(results: dict[int, list[dict]]) -> str:
    lines = [
        "| feeds | cycle | wall s | prompt feeds done s | CPU s (main + workers) | "
        "peak RSS MB (main / worker) | ok / 304 / failed | new articles | hits |",
        "| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for feeds, rows in results.items():
        for r in rows:
            label = "1: all new" if r["cycle"] == 1 else "2: mostly 304"
            lines.append(
                f"| {feeds:,} | {label} | {r['wall']:.1f} | {r['prompt_done']:.1f} | "
                f"{r['cpu_main'] + r['cpu_workers']:.1f} ({r['cpu_main']:.1f} + "
                f"{r['cpu_workers']:.1f}) | {r['rss_main']:.0f} / {r['rss_worker']:.0f} | "
                f"{r['feeds_ok']} / {r['not_modified']} / {r['failed']} | {r['articles']:,} | "
                f"{r['hits']:,} |"
            )
    return "\n".join(lines)


def ratios(results: dict[int, list[dict]]) -> str:
    def cpu(r: dict) -> float:
        return r["cpu_main"] + r["cpu_workers"]

    out = []
    for feeds, (first, second) in results.items():
        out.append(
            f"- {feeds:,} feeds: cycle 2 costs 1/{cpu(first) / cpu(second):.1f} of cycle 1's CPU"
        )
    sizes = sorted(results)
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        factor = large / small
        for index, name in ((0, "cycle 1"), (1, "cycle 2")):
            grow = cpu(results[large][index]) / cpu(results[small][index])
            out.append(
                f"- {name}: {factor:g}× the feeds cost {grow:.2f}× the CPU "
                f"({grow / factor:.2f} of linear)"
            )
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--run-cycles":
        config, kinds, control = sys.argv[2:5]
        rows = run_cycles(config, json.loads(Path(kinds).read_text()), control)
        print(json.dumps(rows))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000", help="comma-separated feed counts")
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="100 feeds only, to try it out")
    parser.add_argument(
        "--parse-workers", type=int, default=0, help="[poll] parse_workers (0: the parse thread)"
    )
    args = parser.parse_args()
    sizes = [100] if args.quick else [int(s) for s in args.sizes.split(",")]
    baselines = [parse_baseline_ms(args.items)]
    results = {}
    for n in sizes:
        results[n] = bench_size(n, args.items, args.parse_workers)
        baselines.append(parse_baseline_ms(args.items))
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}\n"
    )
    print(table(results))
    print()
    print(
        "Machine speed in this run (baseline): parse_feed of one 50-item farm feed took "
        + " / ".join(f"{ms:.1f}" for ms in baselines)
        + " ms of CPU (before the first size, then after each)\n"
    )
    print(ratios(results))


if __name__ == "__main__":
    main()
