"""A scripted HTTP feed server on 127.0.0.1 for poller tests (standard library only).

    with FeedServer() as srv:
        url = srv.set("/wire.xml", Route(body=b"<rss .../>", etag='"v1"'))
        srv.serve_file("/es.xml", DEMO / "prensa-es.xml", gzip=True)
        ...poll url...
        assert srv.hits("/wire.xml") == 1
        assert srv.requests[-1].headers["if-none-match"] == '"v1"'

Each request is matched against the route registered for its exact target (path plus
query) first, then for its path without the query; anything else gets 404.

- A GET whose If-None-Match names the route's ETag, or (with no If-None-Match) whose
  If-Modified-Since is not older than the route's Last-Modified, gets 304 with no body.
  Only routes with status 200 take part. ``W/`` prefixes, a ``-gzip`` suffix and ``*``
  are understood, so clients that send back a weak or Apache-style tag still match.
- ``gzip=True`` compresses the body when Accept-Encoding allows gzip (httpx always asks).
- 3xx routes take their Location from ``route.headers``; see also ``redirect_loop``.
- ``delay`` sleeps before answering; requests run in daemon threads, so a slow route
  never blocks the others, and ``stop()`` wakes delayed requests and returns at once.
- ``requests`` logs every request when its status is decided (before any delay), so a
  request whose client timed out is still counted.
"""

from __future__ import annotations

import email.utils
import gzip as gzip_module
import hashlib
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/json",
    ".html": "text/html",
    ".md": "text/markdown; charset=utf-8",
}


@dataclass
class Route:
    """One scripted response. ``etag`` may be given bare (``abc``) or quoted (``"abc"``)."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml"  # "" sends no Content-Type header
    etag: str | None = None
    last_modified: str | None = None  # an HTTP-date, see http_date()
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    gzip: bool = False


class Headers(dict):
    """A plain dict of request headers with lower-case keys; lookups ignore case."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass
class RequestLog:
    path: str  # the request target as sent, query included
    headers: Headers  # case-insensitive lookups
    time: float  # time.monotonic() when the request arrived
    status: int  # the status sent (or about to be sent, for a delayed request)
    method: str = "GET"
    route: str | None = None  # the key of the route that answered, None for a 404
    client_port: int = 0  # the client's side of the TCP connection: one per connection


def http_date(timestamp: float | None = None) -> str:
    """An HTTP-date (RFC 9110) for a Unix timestamp, default now."""
    return email.utils.formatdate(timestamp, usegmt=True)


def quote_etag(etag: str) -> str:
    return etag if etag.startswith(('"', 'W/"')) else f'"{etag}"'


def _bare_etag(tag: str) -> str:
    return tag.strip().removeprefix("W/").strip('"').removesuffix("-gzip")


def _accepts_gzip(header: str | None) -> bool:
    for part in (header or "").lower().split(","):
        name, _, params = part.partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.replace(" ", "").removeprefix("q=") or "1"
            return q.replace(".", "").strip("0") != ""
    return False


def _not_modified(route: Route, headers: Headers) -> bool:
    if route.status != 200:
        return False
    inm = headers.get("if-none-match")
    if inm is not None:  # when present it wins over If-Modified-Since (RFC 9110)
        if route.etag is None:
            return False
        tags = [_bare_etag(t) for t in inm.split(",")]
        return "*" in tags or _bare_etag(route.etag) in tags
    ims = headers.get("if-modified-since")
    if ims is None or route.last_modified is None:
        return False
    try:
        since = email.utils.parsedate_to_datetime(ims)
        modified = email.utils.parsedate_to_datetime(route.last_modified)
    except (TypeError, ValueError):
        return False
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    modified = modified if modified.tzinfo else modified.replace(tzinfo=UTC)
    return since >= modified


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    disable_nagle_algorithm = True  # no 40 ms stalls between headers and body
    wbufsize = -1  # buffered; flushed once per response

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        owner = self.server.owner
        arrived = time.monotonic()
        headers = Headers((k.lower(), v) for k, v in self.headers.items())
        key, route = owner._lookup(self.path)

        extra: dict[str, str] = {}
        body = b""
        if route is None:
            status, ctype = 404, "text/html"
            body = b"<html><body><h1>404 Not Found</h1></body></html>\n"
        else:
            status, ctype = route.status, route.content_type
            if route.etag is not None:
                extra["ETag"] = quote_etag(route.etag)
            if route.last_modified is not None:
                extra["Last-Modified"] = route.last_modified
            if route.gzip:
                extra["Vary"] = "Accept-Encoding"
            extra.update(route.headers)
            if _not_modified(route, headers):
                status = 304
            else:
                body = route.body
                if route.gzip and body and _accepts_gzip(headers.get("accept-encoding")):
                    body = gzip_module.compress(body, mtime=0)
                    extra["Content-Encoding"] = "gzip"

        owner._log(
            RequestLog(
                self.path, headers, arrived, status, self.command, key, self.client_address[1]
            )
        )
        if route is not None and route.delay > 0 and owner._stopping.wait(route.delay):
            self.close_connection = True  # server is stopping: drop the request unanswered
            return
        try:
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            if status in (204, 304) or 100 <= status < 200:
                body = b""
            else:
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body and body:
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver's listen backlog is 5: sixty clients connecting at once overflowed it
    # while the accept loop waited for the CPU, and the dropped SYNs were retried by the
    # kernel 1, 3, 7, 15 s later, stalling tests for no fault of the client (nginx, for
    # one, listens with a backlog of 511).
    request_queue_size = 128

    def __init__(self, owner: FeedServer) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), _Handler)

    def handle_error(self, request, client_address) -> None:
        # quiet about clients that hang up (timeouts, closed pools); report real bugs
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class FeedServer:
    """Scripted feed server. ``start()`` or ``with FeedServer() as srv:``.

    ``host`` may be another loopback address (127.0.0.2 on Linux) to test per-host limits.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[RequestLog] = []
        self._routes: dict[str, Route | list[Route]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FeedServer:
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="feed-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes requests sleeping in a delay
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FeedServer is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + _norm(path)

    # scripting
    def set(self, path: str, route: Route) -> str:
        """Answer ``path`` with ``route`` from now on; returns the URL."""
        with self._lock:
            self._routes[_norm(path)] = route
        return self.url(path)

    def set_sequence(self, path: str, routes: list[Route]) -> str:
        """Answer successive requests with successive routes; the last one repeats."""
        if not routes:
            raise ValueError("routes must not be empty")
        with self._lock:
            self._routes[_norm(path)] = list(routes)
        return self.url(path)

    def serve_file(self, path: str, file: Path, **kw: object) -> str:
        """Serve a file's bytes. ETag defaults to the SHA-1 of the body; Content-Type is
        guessed from the suffix unless ``content_type`` is given."""
        body = Path(file).read_bytes()
        kw.setdefault("etag", hashlib.sha1(body).hexdigest())
        kw.setdefault(
            "content_type",
            CONTENT_TYPES.get(Path(file).suffix.lower(), "application/octet-stream"),
        )
        return self.set(path, Route(body=body, **kw))  # type: ignore[arg-type]

    def serve_folder(self, folder: Path, prefix: str = "/", **kw: object) -> list[str]:
        """Serve every file under ``folder`` (recursively) at prefix + relative path."""
        folder = Path(folder)
        prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
        urls = []
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = urllib.parse.quote(file.relative_to(folder).as_posix())
            urls.append(self.serve_file(prefix + rel, file, **kw))
        return urls

    def redirect_loop(self, path: str, status: int = 302) -> str:
        """Make ``path`` redirect to itself forever; returns the URL."""
        return self.set(path, Route(status=status, content_type="", headers={"Location": path}))

    # inspection
    def hits(self, path: str) -> int:
        """Requests for ``path``: by exact target, or answered by the route ``path``."""
        path = _norm(path)
        with self._lock:
            return sum(1 for r in self.requests if r.path == path or r.route == path)

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # used by the handler
    def _lookup(self, target: str) -> tuple[str | None, Route | None]:
        candidates = (target, urllib.parse.urlsplit(target).path)
        with self._lock:
            for key in candidates:
                entry = self._routes.get(key)
                if entry is None:
                    continue
                if isinstance(entry, list):
                    return key, entry.pop(0) if len(entry) > 1 else entry[0]
                return key, entry
        return None, None

    def _log(self, entry: RequestLog) -> None:
        with self._lock:
            self.requests.append(entry)


def _norm(path: str) -> str:
    return path if path.startswith("/") else "/" + path
