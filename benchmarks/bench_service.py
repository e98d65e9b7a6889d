"""The running service's steady cycle against the fetch floor: `monitor run` on a feed farm.

    python benchmarks/bench_service.py [--sizes 500,2000] [--steady 2]
    python benchmarks/bench_service.py --sizes 2000 --rss2email PATH/TO/r2e
    python benchmarks/bench_service.py --sizes 2000 --parse-workers 1   # worker processes

For each size: the farm (feed_farm.py) in its own process, and `monitor run`
(the real CLI, console mode, shipped watchlists, a new database) as a
subprocess, for 1 + 2 × `--steady` cycles: cycle 1 with everything new, then
alternately a cycle where nothing changed (every feed with validators answers
304; the no-validator ones send their same body) and one where 10% of the
feeds publish five new items. The bench moves the farm to its next generation
as soon as a cycle's "cycle done" line appears, well before the scheduler's
next tick. Then SIGTERM, and the service must exit with every worker gone.

Measured from outside, as an operator would (`/proc`, sampled every 0.2 s):

- CPU of the whole process tree per cycle, between consecutive "cycle done"
  lines: the service's utime + stime + cutime + cstime, plus those of every
  live descendant (parse workers that live as long as the service are not in
  RUSAGE_CHILDREN until they are reaped);
- peak RSS of the tree (the sum over its processes at each sample) and peak
  PSS (shared pages split between the processes that share them);
- TCP connections the farm accepted, against requests it answered.

The floor, in the same run, after the service stopped: for each steady cycle,
a fresh process replays exactly the requests the service made in it (the farm
logs them and serves any past generation again) with a plain httpx
AsyncClient, 16 at a time, the same If-None-Match, gzip and timeout, and then
`parse_feed` (project settings) on the bodies that changed. Its CPU is timed
around the fetching and the parsing only (imports excluded).

`--rss2email PATH` also runs rss2email (`r2e run --no-send`, from a separate
venv) once over the same farm, for its peak RSS and CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
FARM = Path(__file__).with_name("feed_farm.py")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
INTERVAL = {500: 20, 2000: 30}  # seconds between cycles: longer than a steady cycle takes
CHANGED_SHARE = 0.1
CONFIG = """\
[storage]
path = "{db}"
[watchlists]
path = "{watchlists}"
[poll]
interval_seconds = {interval}
parse_workers = {parse_workers}
jitter_seconds = 0
timeout_seconds = 10
[digest]
html_dir = "{digests}"
"""


# -- the process tree, from /proc ------------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


_TREE: dict[int, tuple[float, list[int]]] = {}


def tree(root: int, fresh: bool = False) -> list[int]:
    """The root and every live descendant (a scan of /proc, redone every second at
    most: sampling must not cost a core)."""
    found_at, found = _TREE.get(root, (0.0, []))
    if not fresh and time.monotonic() - found_at < 1.0:
        return found
    found = _scan_tree(root)
    _TREE[root] = (time.monotonic(), found)
    return found


def _scan_tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, ()))
    return found


def tree_cpu(root: int) -> float:
    """CPU seconds of the tree: each process's own and that of its reaped children."""
    total = 0
    for pid in tree(root, fresh=True):
        if fields := _stat(pid):
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def role(root: int, pid: int) -> str:
    """What a process of the tree is, from its command line."""
    if pid == root:
        return "service"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "other"
    line = " ".join(argv)
    if "resource_tracker" in line:
        return "resource tracker"
    if "parseworker" in line or "spawn_main" in line:
        return "parse workers"
    return Path(argv[0]).name or "other"


def tree_memory(root: int) -> tuple[float, float, dict[str, float]]:
    """RSS and PSS of the tree, MB, and its RSS by role."""
    rss = pss = 0
    roles: dict[str, float] = {}
    for pid in tree(root):
        try:
            own = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
                    break
        except (OSError, IndexError, ValueError):
            continue
        rss += own
        name = role(root, pid)
        roles[name] = roles.get(name, 0.0) + own / 2**20
    return rss / 2**20, pss / 2**20, roles


class Sampler(threading.Thread):
    """Peak tree memory since the last `take()`, sampled every 0.2 s."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self.stopped = root, (0.0, 0.0), threading.Event()
        self.roles: dict[str, float] = {}

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            rss, pss, roles = tree_memory(self.root)
            if rss > self.peak[0]:
                self.roles = roles
            self.peak = (max(self.peak[0], rss), max(self.peak[1], pss))

    def take(self) -> tuple[float, float, dict[str, float]]:
        """The peaks, and the RSS of each role when the tree's RSS peaked."""
        peak, roles = self.peak, self.roles
        self.peak, self.roles = (0.0, 0.0), {}
        return (*peak, roles)


# -- the farm ----------------------------------------------------------------------------------
def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def start_farm(feeds: int) -> tuple[subprocess.Popen, dict]:
    farm = subprocess.Popen(
        [sys.executable, str(FARM), "--feeds", str(feeds)], stdout=subprocess.PIPE, text=True
    )
    return farm, json.loads(farm.stdout.readline())


# -- the service -------------------------------------------------------------------------------
def run_service(feeds: int, steady: int, listing: dict, tmp: Path, parse_workers: int = 0) -> dict:
    plan = ["new"] + ["304", "10%"] * steady
    config = tmp / "config.toml"
    interval = INTERVAL.get(feeds, max(20, feeds // 60))
    config.write_text(
        CONFIG.format(
            db=(tmp / "monitor.db").as_posix(),
            watchlists=(ROOT / "watchlists").as_posix(),
            interval=interval,
            parse_workers=parse_workers,
            digests=(tmp / "digests").as_posix(),
        )
        + "".join(f'[[feeds]]\nurl = "{f["url"]}"\n' for f in listing["feeds"]),
        encoding="utf-8",
    )
    base = listing["control"].rsplit("/", 1)[0]
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    started = time.perf_counter()
    service = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,  # the console sink's alerts
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = Sampler(service.pid)
    sampler.start()
    cycles, last_cpu, last_time = [], 0.0, started
    stats = get_json(f"{base}/_stats")
    try:
        for line in service.stderr:
            if "cycle done" not in line:
                if "level=ERROR" in line or "Traceback" in line:
                    print(line.rstrip(), file=sys.stderr)
                continue
            cpu, now = tree_cpu(service.pid), time.perf_counter()
            kind = plan[len(cycles)]
            following = plan[len(cycles) + 1] if len(cycles) + 1 < len(plan) else None
            if following:  # before the next tick: the farm's next generation
                share = 0.0 if following == "304" else CHANGED_SHARE
                urllib.request.urlopen(f"{base}/_next?share={share}").read()
            after = get_json(f"{base}/_stats")
            rss, pss, roles = sampler.take()
            cycles.append(
                {
                    "kind": kind,
                    "cpu": cpu - last_cpu,
                    "gap": now - last_time,
                    "rss": rss,
                    "pss": pss,
                    "rss_by_role": roles,
                    "connections": after["connections"] - stats["connections"],
                    "requests": after["requests"] - stats["requests"],
                    "summary": line.split("cycle done", 1)[1].strip(),
                }
            )
            last_cpu, last_time, stats = cpu, now, after
            if not following:
                break
        pids = tree(service.pid, fresh=True)
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=60)
        time.sleep(0.5)
        left = [pid for pid in pids if pid != service.pid and _stat(pid) and _stat(pid)[0] != "Z"]
    finally:
        sampler.stopped.set()
        if service.poll() is None:
            service.kill()
    return {"cycles": cycles, "exit": code, "left_running": left, "interval": interval}


# -- the floor ---------------------------------------------------------------------------------
def replay(requests: list[dict], generation: int) -> dict:
    """In a fresh process: the requests of one cycle with plain httpx, then parse_feed."""
    import asyncio
    from datetime import UTC, datetime

    import httpx

    # as fetch.py does: httpcore looks for the absent sniffio on disk at every request
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    from monitor.core.models import Feed, FetchResult
    from monitor.feeds.parse import parse_feed

    bodies: list[tuple[str, bytes]] = []

    async def fetch_all() -> None:
        gate = asyncio.Semaphore(16)
        async with httpx.AsyncClient(timeout=10, headers={"Accept-Encoding": "gzip"}) as client:

            async def one(request: dict) -> None:
                headers = {}
                if request["if_none_match"]:
                    headers["If-None-Match"] = request["if_none_match"]
                async with gate:
                    try:
                        response = await client.get(
                            f"{request['url']}?gen={generation}", headers=headers
                        )
                    except httpx.HTTPError:
                        return
                if request["changed"] and response.status_code == 200:
                    bodies.append((request["url"], response.content))

            await asyncio.gather(*(one(r) for r in requests))

    started = time.process_time()
    asyncio.run(fetch_all())
    fetch_cpu = time.process_time() - started
    now = datetime.now(UTC)
    started = time.process_time()
    for url, body in bodies:
        parse_feed(FetchResult(Feed(url), 200, body), now)
    return {"fetch": fetch_cpu, "parse": time.process_time() - started, "parsed": len(bodies)}


def floors(log: list[dict], listing: dict, tmp: Path) -> dict[int, dict]:
    """Each generation's requests replayed in a fresh process."""
    urls = {
        (urlsplit(f["url"]).hostname, urlsplit(f["url"]).path): f["url"] for f in listing["feeds"]
    }
    out = {}
    for generation in sorted({r["generation"] for r in log}):
        requests = [
            {**r, "url": urls[(r["host"], r["path"])]} for r in log if r["generation"] == generation
        ]
        path = tmp / f"requests-{generation}.json"
        path.write_text(json.dumps(requests))
        done = subprocess.run(
            [sys.executable, __file__, "--replay", str(path), str(generation)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        out[generation] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


# -- rss2email ---------------------------------------------------------------------------------
R2E_CONFIG = """\
[DEFAULT]
to = bench@example.invalid
from = bench@example.invalid
feed-timeout = 10
"""


def run_rss2email(r2e: str, listing: dict, tmp: Path) -> dict:
    config, data = tmp / "r2e.cfg", tmp / "r2e.json"
    config.write_text(
        R2E_CONFIG
        + "".join(f"[feed.f{i}]\nurl = {f['url']}\n" for i, f in enumerate(listing["feeds"]))
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [r2e, "-c", str(config), "-d", str(data), "run", "--no-send"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sampler = Sampler(proc.pid)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    sampler.stopped.set()
    return {
        "wall": time.perf_counter() - started,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss": usage.ru_maxrss / 1024,
        "exit": os.waitstatus_to_exitcode(status),
    }


# -- report ------------------------------------------------------------------------------------
def bench_size(feeds: int, steady: int, r2e: str | None, parse_workers: int = 0) -> dict:
    farm, listing = start_farm(feeds)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            service = run_service(feeds, steady, listing, tmp, parse_workers)
            base = listing["control"].rsplit("/", 1)[0]
            log = get_json(f"{base}/_log")
            floor = floors(log, listing, tmp)
            result = {"service": service, "floor": floor}
        if r2e:
            farm.terminate()
            farm.wait()
            farm, listing = start_farm(feeds)  # a fresh farm: everything new again
            with tempfile.TemporaryDirectory() as tmp_name:
                result["rss2email"] = run_rss2email(r2e, listing, Path(tmp_name))
        return result
    finally:
        farm.terminate()
        farm.wait()


def report(results: dict[int, dict]) -> str:
    lines = [
        "| feeds | cycle | CPU s (service tree) | fetch floor s | fetch + parse floor s "
        "| ratio to its floor | peak RSS / PSS MB (tree) | TCP connections / requests |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    summary = []
    for feeds, result in results.items():
        ratios: dict[str, list[float]] = {"304": [], "10%": []}
        for generation, cycle in enumerate(result["service"]["cycles"], start=1):
            floor = result["floor"].get(generation, {"fetch": float("nan"), "parse": 0.0})
            fetch, both = floor["fetch"], floor["fetch"] + floor["parse"]
            against = fetch if cycle["kind"] == "304" else both
            ratio = cycle["cpu"] / against if against else float("nan")
            if cycle["kind"] in ratios:
                ratios[cycle["kind"]].append(ratio)
            label = {"new": "1: all new", "304": "unchanged (304)", "10%": "10% changed"}
            lines.append(
                f"| {feeds:,} | {label[cycle['kind']]} | {cycle['cpu']:.2f} | {fetch:.2f} | "
                f"{both:.2f} ({floor.get('parsed', 0)} parsed) | "
                f"{ratio:.2f}× | {cycle['rss']:.0f} / {cycle['pss']:.0f} | "
                f"{cycle['connections']} / {cycle['requests']} |"
            )
        service = result["service"]
        top = max(service["cycles"], key=lambda c: c["rss"])
        roles = ", ".join(f"{k} {v:.0f}" for k, v in sorted(top["rss_by_role"].items()))
        summary.append(
            f"- {feeds:,} feeds: the tree's RSS peaked in cycle "
            f"{service['cycles'].index(top) + 1} at {top['rss']:.0f} MB: {roles}; the "
            f"first cycle was done {service['cycles'][0]['gap']:.0f} s after the start"
        )
        summary.append(
            f"- {feeds:,} feeds: steady 304 cycle {statistics.median(ratios['304']):.2f}× the "
            f"fetch floor, 10%-changed {statistics.median(ratios['10%']):.2f}× fetch + parse "
            f"(medians); SIGTERM: exit {service['exit']}, "
            f"{len(service['left_running'])} processes left running"
        )
        if "rss2email" in result:
            r = result["rss2email"]
            peak = max(c["rss"] for c in service["cycles"])
            summary.append(
                f"- rss2email, one run over the same {feeds:,} feeds: {r['cpu']:.1f} s CPU, "
                f"{r['wall']:.0f} s wall, peak RSS {r['peak_rss']:.0f} MB; the service's tree "
                f"peaked at {peak:.0f} MB ({peak / r['peak_rss']:.2f}×)"
            )
    return "\n".join(lines + [""] + summary)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--replay":
        print(json.dumps(replay(json.loads(Path(sys.argv[2]).read_text()), int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000", help="comma-separated feed counts")
    parser.add_argument("--steady", type=int, default=2, help="pairs of steady cycles")
    parser.add_argument("--rss2email", metavar="PATH", help="an r2e executable, for its baseline")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    parser.add_argument(
        "--parse-workers", type=int, default=0, help="[poll] parse_workers (0: the parse thread)"
    )
    args = parser.parse_args()
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        results[size] = bench_size(size, args.steady, args.rss2email, args.parse_workers)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}\n"
    )
    print(report(results))


if __name__ == "__main__":
    main()
