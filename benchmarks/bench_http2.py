"""Would HTTP/2 help the poller? httpx over HTTP/1.1 and HTTP/2, TLS, keep-alive, one host.

    python -m venv H2VENV && H2VENV/bin/pip install 'httpx[http2]' hypercorn trustme
    H2VENV/bin/python benchmarks/bench_http2.py [--feeds 100] [--per-host 4] [--pairs 5]

HTTP/2 needs the `h2` package, which the project does not install, so this runs from a
venv of its own. A hypercorn server (TLS, ALPN h2 and http/1.1, a certificate from
trustme) serves `--feeds` 50-item feeds with ETags on one host; a fresh client process
fetches them all the way the poller does (`per_host` at a time on one AsyncClient whose
connections are kept), three rounds: every feed's body (200), then 304s twice. Client
processes alternate, HTTP/1.1 then HTTP/2, `--pairs` times, so that a machine whose
speed drifts treats both alike. Prints the client's CPU per request for each round,
medians over the pairs, and their ratio. The server's CPU is not counted.

One host with many feeds is where HTTP/2 could win (one connection, requests
multiplexed); a host with one feed sends one request a cycle either way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = ("200", "304", "304 again")


def serve(port: int, certfile: str, keyfile: str) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    item = (
        "<item><title>Story number {i} about the border</title>"
        "<link>https://example.org/{feed}/{i}</link><description>{text}</description></item>"
    )
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8
    bodies: dict[str, bytes] = {}

    def body(feed: str) -> bytes:
        items = "".join(item.format(i=i, feed=feed, text=text) for i in range(50))
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{feed}</title>'
            f"{items}</channel></rss>"
        ).encode()

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        feed = scope["path"].rsplit("/", 1)[-1]
        etag = f'"{feed}"'.encode()
        if dict(scope["headers"]).get(b"if-none-match") == etag:
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", etag)]})
            await send({"type": "http.response.body", "body": b""})
            return
        data = bodies.setdefault(feed, body(feed))
        headers = [(b"content-type", b"application/rss+xml"), (b"etag", etag)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile, config.keyfile = certfile, keyfile
    config.alpn_protocols = ["h2", "http/1.1"]
    config.accesslog = config.errorlog = None
    asyncio.run(hypercorn_serve(app, config))


def client(http2: bool, feeds: int, per_host: int, cafile: str, port: int) -> None:
    import ssl

    import httpx

    async def main() -> list[dict]:
        urls = [f"https://localhost:{port}/feeds/{i}.xml" for i in range(feeds)]
        etags: dict[str, str] = {}
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=per_host)
        verify = ssl.create_default_context(cafile=cafile)
        rounds = []
        async with httpx.AsyncClient(http2=http2, verify=verify, limits=limits) as http:
            for name in ROUNDS:

                async def one(url: str, gate: asyncio.Semaphore) -> str:
                    async with gate:
                        headers = {"If-None-Match": etags[url]} if url in etags else {}
                        response = await http.get(url, headers=headers)
                        await response.aread()
                        etags[url] = response.headers.get("etag", "")
                        return response.http_version

                started = time.process_time()
                gate = asyncio.Semaphore(per_host)
                versions = await asyncio.gather(*(one(url, gate) for url in urls))
                cpu = time.process_time() - started
                rounds.append(
                    {"round": name, "ms": 1000 * cpu / feeds, "versions": sorted(set(versions))}
                )
        return rounds

    print(json.dumps(asyncio.run(main())))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the HTTP/2 server did not start")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("--serve", "--client"):
        if sys.argv[1] == "--serve":
            serve(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        else:
            client(sys.argv[2] == "h2", *map(int, sys.argv[3:5]), sys.argv[5], int(sys.argv[6]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    try:
        import h2  # noqa: F401
        import hypercorn  # noqa: F401
        import trustme
    except ImportError as exc:
        raise SystemExit(
            f"{exc.name} is missing: see the docstring for the venv this needs"
        ) from None
    with tempfile.TemporaryDirectory() as tmp:
        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        cafile, certfile, keyfile = (str(Path(tmp) / n) for n in ("ca.pem", "cert.pem", "key.pem"))
        ca.cert_pem.write_to_path(cafile)
        cert.cert_chain_pems[0].write_to_path(certfile)
        cert.private_key_pem.write_to_path(keyfile)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), certfile, keyfile]
        )
        try:
            wait_for(port)
            runs: dict[str, list[list[dict]]] = {"h1": [], "h2": []}
            for _ in range(args.pairs):
                for version in ("h1", "h2"):
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--client",
                            version,
                            str(args.feeds),
                            str(args.per_host),
                            cafile,
                            str(port),
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    runs[version].append(json.loads(out))
        finally:
            server.terminate()
            server.wait()
    print(f"{args.feeds} feeds on one host, {args.per_host} at a time, {args.pairs} pairs\n")
    print("| round | HTTP/1.1 ms/request | HTTP/2 ms/request | HTTP/2 / HTTP/1.1 |")
    print("| --- | ---: | ---: | ---: |")
    for index, name in enumerate(ROUNDS):
        h1 = statistics.median(run[index]["ms"] for run in runs["h1"])
        h2 = statistics.median(run[index]["ms"] for run in runs["h2"])
        print(f"| {name} | {h1:.2f} | {h2:.2f} | {h2 / h1:.2f}× |")
    spoke = {v: sorted({x for run in runs[v] for r in run for x in r["versions"]}) for v in runs}
    print(f"\nversions spoken: {spoke}")


if __name__ == "__main__":
    main()
