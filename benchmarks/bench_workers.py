"""Several workers on PostgreSQL against one on SQLite: 2,000 local feeds, one run.

    python benchmarks/bench_workers.py [--feeds 2000] [--workers 1,2,3] [--rounds 1]

One feed farm (feed_farm.py, its own process: fast, no-validator, slow, failing,
hanging and HTML feeds over many loopback hosts) serves every configuration the
same first-generation feeds, so each configuration's cycle finds every article
new. Configurations, in this order each round: 1 `monitor poll --once` on a new
SQLite file, then 1, 2 and 3 `monitor poll --once` processes started together on
a new PostgreSQL database (a throwaway server, tests/fakes/pg_server.py: initdb
and pg_ctl on a Unix socket, fsync off).

N workers divide the feeds by their share of the live workers (pipeline/workers.py).
`poll --once` does not register as a worker the way `monitor run` does at start,
so before starting N processes the benchmark registers N live placeholder workers:
each process then claims 1/N of the feeds, then takes leftovers in chunks of 1/N,
as N `monitor run` workers do once they have all said they are alive.

Measured per configuration: wall time from the start of the processes until the
last one exits; CPU seconds of every worker process and its parse workers
(wait4 rusage); CPU seconds of the whole machine (/proc/stat: the workers, the
PostgreSQL server and the farm, which compete for the same cores); feeds and
articles per worker (each process's cycle summary). Prints a markdown table;
benchmarks/README.md holds a copy of a run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # fakes.pg_server: the tests' throwaway server

CONFIG = """\
[storage]
{storage}
[watchlists]
path = "{watchlists}"
[poll]
timeout_seconds = 10
per_host = 4
jitter_seconds = 0
[digest]
html_dir = "{tmp}/digests"
[logging]
level = "ERROR"
"""
SUMMARY = re.compile(r"feeds_ok=(\d+) feeds_failed=(\d+) not_modified=(\d+) articles_new=(\d+)")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of every core since boot (user + nice + system + irq + softirq)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = sum(int(fields[i]) for i in (0, 1, 2, 5, 6))
    return ticks / os.sysconf("SC_CLK_TCK")


def run_workers(config: Path, count: int) -> dict:
    """`count` `monitor poll --once` processes started together; measured."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    machine = machine_cpu_seconds()
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor", "poll", "--once", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=config.parent,
        )
        for _ in range(count)
    ]
    workers = []
    waiting = {p.pid: p for p in procs}
    while waiting:
        pid, status, usage = os.wait4(-1, 0)
        proc = waiting.pop(pid, None)
        if proc is None:
            continue
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read() if proc.stderr else ""
        found = SUMMARY.search(stderr)
        if proc.returncode != 0 or not found:
            raise SystemExit(f"worker failed ({proc.returncode}): {stderr[-2000:]}")
        ok, failed, _, articles = (int(g) for g in found.groups())  # ok counts the 304s
        workers.append(
            {
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "feeds": ok + failed,
                "articles": articles,
            }
        )
    return {
        "wall": time.perf_counter() - started,
        "machine_cpu": machine_cpu_seconds() - machine,
        "workers": workers,
    }


def configure(tmp: Path, storage: str, feeds: list[dict]) -> Path:
    config = tmp / "config.toml"
    text = CONFIG.format(storage=storage, watchlists=ROOT / "watchlists", tmp=tmp)
    text += "".join(f'[[feeds]]\nurl = "{f["url"]}"\n' for f in feeds)
    config.write_text(text, encoding="utf-8")
    return config


def placeholders(url: str, count: int) -> None:
    """`count` live workers, so each `poll --once` claims 1/count of the feeds."""
    from monitor.storage.postgres import PgStore

    store = PgStore(url)
    try:
        alive_until = datetime.now(UTC) + timedelta(hours=1)
        for n in range(count):
            store.register_worker(f"bench-placeholder-{n}", "bench", 0, alive_until)
    finally:
        store.close()


def bench(feeds: int, worker_counts: list[int], rounds: int) -> list[dict]:
    from fakes.pg_server import PgServer

    reason = PgServer.unavailable()
    if reason:
        raise SystemExit(f"no PostgreSQL server: {reason}")
    farm = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("feed_farm.py")), "--feeds", str(feeds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    results = []
    try:
        listing = json.loads(farm.stdout.readline()) if farm.stdout else {"feeds": []}
        with PgServer() as server:
            for round_ in range(1, rounds + 1):
                for backend, count in [("SQLite", 1)] + [("PostgreSQL", n) for n in worker_counts]:
                    with tempfile.TemporaryDirectory() as folder:
                        tmp = Path(folder)
                        if backend == "SQLite":
                            storage = f'path = "{tmp / "bench.db"}"'
                        else:
                            url = server.create_database("bench")
                            placeholders(url, count)
                            storage = f'url = "{url}"'
                        config = configure(tmp, storage, listing["feeds"])
                        row = run_workers(config, count)
                    row.update(backend=backend, count=count, round=round_)
                    results.append(row)
                    print(line(row, feeds), file=sys.stderr, flush=True)
    finally:
        farm.terminate()
        farm.wait()
    return results


def line(row: dict, feeds: int) -> str:
    workers = row["workers"]
    cpu = sum(w["cpu"] for w in workers)
    articles = sum(w["articles"] for w in workers)
    shares = "/".join(str(w["feeds"]) for w in sorted(workers, key=lambda w: -w["feeds"]))
    per_worker = feeds / row["wall"] / len(workers)
    return (
        f"| {row['backend']} | {row['count']} | {row['wall']:.1f} | {cpu:.1f} | "
        f"{row['machine_cpu']:.1f} | {feeds / row['wall']:.0f} | {per_worker:.0f} | "
        f"{shares} | {articles:,} |"
    )


def table(results: list[dict], feeds: int) -> str:
    head = (
        "| backend | workers | wall s | workers' CPU s | machine CPU s | feeds/s | "
        "feeds/s per worker | feeds per worker | new articles |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
    )
    return "\n".join([head, *(line(r, feeds) for r in results)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,3", help="PostgreSQL worker counts (1,2,3)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every configuration")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    results = bench(args.feeds, counts, args.rounds)
    print(f"{args.feeds} feeds, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    print(table(results, args.feeds))


if __name__ == "__main__":
    main()
