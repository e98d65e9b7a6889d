"""Polling feeds over HTTP (httpx lives here only) and file://.

Every feed is fetched concurrently, at most `max_concurrency` at once and
`per_host` at once per host, so one slow outlet does not hold up the rest and
we never hammer a server; a request still unanswered after 1 s gives its
global slot back (the slow lane), so dead servers waiting out their timeout
never hold up the others. Fetching runs ahead of parsing and storing, within
a byte budget for what is fetched and not yet stored (`Backlog`). Each
request has a connect/read timeout and a total deadline (a server dripping
one byte a second never ends a read timeout).
Conditional GET sends the stored ETag / Last-Modified; a 304 is a success.
Bodies are read as a stream and cut off at `max_bytes` after decompression,
every Content-Encoding layer counted (`contentcoding`), so a gzip bomb, nested
or not, costs at most `max_bytes` of memory. Redirects are followed here, one
hop at a time, so that `netpolicy` vets each hop before it is requested: a
public feed may not hand us over to an internal address. A 429 or 503 with
Retry-After carries the server's wish on to the feed's next attempt. Whatever
goes wrong, `fetch` returns a `FetchResult` with `error` set and never raises:
one feed never ends a cycle. Idle connections are kept, a few per host
(`HostPools`), for the next feeds on that host and, in the service (one
`Connections` for its life), for the next cycles; a host's feeds start spread
through the cycle (`hostorder`), so one connection serves them in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import httpx

from monitor.core.config import PollConfig
from monitor.core.errors import FetchError
from monitor.core.models import Feed, FetchResult
from monitor.core.netpolicy import AddressPolicy
from monitor.feeds import compat
from monitor.feeds.backlog import Backlog, take_ready
from monitor.feeds.contentcoding import ACCEPT_ENCODING, BodyDecoder
from monitor.feeds.filefeed import failed, open_files_limit, read_file
from monitor.feeds.hostorder import host_of, spread_hosts
from monitor.feeds.retryafter import retry_after_seconds

log = logging.getLogger(__name__)
Then = Callable[[FetchResult], Awaitable]
SLOW_REQUEST_SECONDS = 1.0
# bodies fetched and not stored yet, at most (about); their parsed articles wait with
# them, about 1.3 times their size: 21 MB at the peak of a 2,000-feed first cycle with
# 16 MB, when one core stores while the others parse
BACKLOG_BUDGET_BYTES = 8 * 2**20
MAX_KEPT_HOSTS = 512  # hosts whose idle connections are kept, at most `per_host` each
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here
logging.getLogger("httpcore").setLevel(logging.WARNING)
compat.install()  # httpcore's sniffio lookup, among our library adaptations

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)


class HostPools(httpx.AsyncBaseTransport):
    """A small connection pool per host, kept alive across feeds and cycles.

    Real feeds are TLS, and a feed list often shares hosts (a dozen of the example
    config's feeds are on news.google.com): a new handshake per request is costly, so
    idle connections are kept, `per_host` at most for each host. Not in one big pool:
    httpcore's pool scans all its connections, quadratically, at every request and
    response, which at 400 hosts cost more than the connections saved. Hosts beyond
    `max_hosts` close the least recently used host's connections (file descriptors).
    """

    def __init__(self, poll: PollConfig, keepalive_seconds: float, max_hosts: int) -> None:
        self._limits = httpx.Limits(
            # our semaphores decide what starts; a connection cap here would keep the slow
            # lane's sockets from being counted out and stall everyone behind them
            max_connections=None,
            max_keepalive_connections=poll.per_host,
            keepalive_expiry=keepalive_seconds,
        )
        self._ssl = httpx.create_ssl_context()  # loading the CA bundle once, not per host
        self._pools: dict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = {}
        self._max_hosts = max_hosts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        pool = self._pools.pop(origin, None)  # re-inserted last: the most recently used
        if pool is None:
            pool = httpx.AsyncHTTPTransport(verify=self._ssl, limits=self._limits)
            if len(self._pools) >= self._max_hosts:
                oldest = next(iter(self._pools))
                await self._pools.pop(oldest).aclose()
        self._pools[origin] = pool
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()


class Connections:
    """The service's one HTTP client: connections outlive the cycle (`monitor run`)."""

    def __init__(self, poll: PollConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        # an idle connection is worth keeping until the next cycle (a first cycle may take
        # longer than the interval), if the server agrees; kept sockets use at most half of
        # the file descriptors this process may open
        keepalive = 2 * poll.interval_seconds + poll.jitter_seconds + poll.timeout_seconds
        hosts = min(MAX_KEPT_HOSTS, max(16, open_files_limit() // 2 // poll.per_host))
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(poll.timeout_seconds),
            # redirects are followed by _open, which vets every hop first
            headers={
                "User-Agent": poll.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            transport=transport or HostPools(poll, keepalive, hosts),
        )

    async def aclose(self) -> None:
        await self.client.aclose()


class Fetcher:
    """One cycle's fetching, with per-host limits, on shared `Connections` (connection
    reuse), its own when none are given (closed with the Fetcher)."""

    def __init__(
        self,
        poll: PollConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        connections: Connections | None = None,
    ) -> None:
        self.poll = poll
        self._global = asyncio.Semaphore(poll.max_concurrency)
        self._per_host: dict[str, asyncio.Semaphore] = {}
        self._backlog = Backlog(BACKLOG_BUDGET_BYTES)
        self._policy = AddressPolicy(poll.internal_networks)
        self._own = connections is None
        self._connections = connections or Connections(poll, transport)
        self._client = self._connections.client

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._own:
            await self._connections.aclose()

    async def fetch_batches(
        self, feeds: Sequence[Feed], then: Then | None = None, most: int = 1, linger: float = 0.0
    ) -> AsyncIterator[list]:
        """Yield results as they complete, so storing starts before the slowest feed answers.

        `then(result)` reads a body (the parse workers do) once its request has given
        its slots back. A body counts in the `Backlog` from its arrival until the
        caller asks for the next batch (it has stored this one): requests wait for
        room there, not for reading or storing, so a dead server late in the list
        still starts its timeout early. Yields lists of what `then` returns: up to
        `most` results, waiting up to `linger` seconds after the first for more
        (the caller stores a batch in one transaction).
        """

        # results travel through a queue, not as the tasks' return values: a task list
        # holding every parsed feed until the cycle ends would cost 100 MB at 2,000 feeds
        ready: asyncio.Queue[tuple[object, int, BaseException | None]] = asyncio.Queue()

        async def fetch_and_read(feed: Feed) -> None:
            result = await self.fetch(feed)
            self._backlog.add(len(result.body))
            try:
                ready.put_nowait(((await then(result)) if then else result, len(result.body), None))
            except Exception as exc:  # a bug in `then`: raised to the caller, as it should
                ready.put_nowait((None, len(result.body), exc))

        tasks = [asyncio.create_task(fetch_and_read(feed)) for feed in spread_hosts(feeds)]
        left = len(tasks)
        try:
            while left:
                batch = await take_ready(ready, min(most, left), linger)
                left -= len(batch)
                try:
                    for _, _, error in batch:
                        if error is not None:
                            raise error
                    yield [item for item, _, _ in batch]
                finally:
                    self._backlog.remove(sum(size for _, size, _ in batch))
        finally:
            for task in tasks:
                task.cancel()

    async def fetch(self, feed: Feed) -> FetchResult:
        """Fetch one feed; every failure becomes a `FetchResult` with `error` set."""
        started = time.monotonic()
        if feed.url.startswith("file://"):
            return await asyncio.to_thread(read_file, feed, started, self.poll.max_bytes)
        host = host_of(feed.url)
        per_host = self._per_host.setdefault(host, asyncio.Semaphore(self.poll.per_host))
        # per host first: feeds queued behind a busy host must not hold global slots
        async with per_host, self._global_slot():
            return await self._attempt(feed, started)

    @contextlib.asynccontextmanager
    async def _global_slot(self) -> AsyncIterator[None]:
        """A global slot, given back early if the server is slow to answer.

        A request still waiting after SLOW_REQUEST_SECONDS costs an idle socket,
        not work: it moves to the "slow lane" and frees its slot, so twenty
        dead servers (each held until its timeout) never stall the other
        feeds. At most `max_concurrency` requests are ever *starting* at once.
        """
        await self._global.acquire()
        held = True
        try:  # checked with the slot in hand: whoever waited for a slot waits for room too
            await self._backlog.room()
        except BaseException:
            self._global.release()
            raise

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self._global.release()

        timer = asyncio.get_running_loop().call_later(SLOW_REQUEST_SECONDS, release)
        try:
            yield
        finally:
            timer.cancel()
            release()

    async def _attempt(self, feed: Feed, started: float) -> FetchResult:
        try:
            async with asyncio.timeout(self.poll.timeout_seconds * 2):
                return await self._get(feed, started)
        except FetchError as exc:  # refused, or a body we cannot decode
            return self._failed(feed, started, exc.reason)
        except TimeoutError:
            return self._failed(
                feed, started, f"timed out after {self.poll.timeout_seconds * 2:g}s in total"
            )
        except httpx.TimeoutException:
            return self._failed(feed, started, f"timed out after {self.poll.timeout_seconds:g}s")
        except httpx.TooManyRedirects:
            return self._failed(feed, started, f"more than {self.poll.max_redirects} redirects")
        except httpx.InvalidURL as exc:
            return self._failed(feed, started, f"invalid URL: {exc}")
        except httpx.ConnectError as exc:
            return self._failed(feed, started, f"cannot connect: {exc or exc.__class__.__name__}")
        except (httpx.HTTPError, OSError) as exc:
            return self._failed(feed, started, f"{exc.__class__.__name__}: {exc}")
        except Exception as exc:  # a bug or a protocol corner: this feed fails, not the cycle
            log.exception("unexpected fetch failure feed=%s", feed.url)
            return self._failed(feed, started, f"unexpected {exc.__class__.__name__}: {exc}")

    async def _get(self, feed: Feed, started: float) -> FetchResult:
        headers = {}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        response = await self._open(feed, headers)
        try:
            if response.status_code == 304 or response.status_code >= 400:
                await _drain(response)  # so that its connection is kept for the next request
            if response.status_code == 304:
                return FetchResult(
                    feed,
                    status=304,
                    etag=feed.etag,
                    final_url=str(response.url),
                    last_modified=feed.last_modified,
                    elapsed=time.monotonic() - started,
                )
            if response.status_code >= 400:
                return FetchResult(
                    feed,
                    status=response.status_code,
                    error=f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                    retry_after=retry_after_seconds(response.headers.get("retry-after")),
                    elapsed=time.monotonic() - started,
                )
            body, truncated = await self._read_limited(response)
            if truncated:
                log.warning(
                    "response cut off at max_bytes feed=%s max_bytes=%d",
                    feed.url,
                    self.poll.max_bytes,
                )
            return FetchResult(
                feed,
                status=response.status_code,
                body=body,
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                final_url=str(response.url),
                truncated=truncated,
                elapsed=time.monotonic() - started,
            )
        finally:
            await response.aclose()

    async def _open(self, feed: Feed, headers: dict[str, str]) -> httpx.Response:
        """The response at the end of the redirects, streaming; each hop vetted first.

        The feed's own URL is used as written. After that, once any hop was public,
        a redirect to an internal address is refused before it is requested: so
        nothing is sent there, and the error is the same whether anything listens.
        """
        request = self._client.build_request("GET", feed.url, headers=headers)
        public_seen = False
        for hop in range(self.poll.max_redirects + 1):
            response = await self._send(request)
            target = response.next_request
            if target is None:
                return response
            await _drain(response)
            await response.aclose()
            if hop == self.poll.max_redirects:
                break
            public_seen = public_seen or await self._policy.is_public(_host(request.url))
            if public_seen and (address := await self._policy.internal_address(_host(target.url))):
                raise FetchError(
                    feed.url,
                    f"refused: redirect from a public address to {target.url}, "
                    f"an internal address ({address})",
                )
            request = target
        raise httpx.TooManyRedirects(f"more than {self.poll.max_redirects} redirects")

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send once more if a kept-alive connection turns out closed by the server: it
        may hang up an idle connection just as we reuse it (a GET is safe to repeat)."""
        try:
            return await self._client.send(request, stream=True)
        except httpx.RemoteProtocolError as exc:
            if not str(exc).startswith("Server disconnected"):
                raise
            return await self._client.send(request, stream=True)

    async def _read_limited(self, response: httpx.Response) -> tuple[bytes, bool]:
        """The decoded body, at most `max_bytes` of it, and whether it was cut off."""
        decoder = BodyDecoder(
            str(response.url), response.headers.get("content-encoding"), self.poll.max_bytes
        )
        chunks: list[bytes] = []
        async for raw in response.aiter_raw():
            chunks.extend(decoder.decode(raw))
            if decoder.exceeded:  # stop reading: the rest would be thrown away
                break
        return b"".join(chunks), decoder.exceeded

    _failed = staticmethod(failed)


async def _drain(response: httpx.Response, most: int = 65_536) -> None:
    """Read a short body to its end: httpcore keeps a connection only once its response
    was read to the end, a 304's empty one too (unread, every 304 cost a new connection)."""
    read = 0
    with contextlib.suppress(httpx.HTTPError):  # the answer stands; the connection closes
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > most:  # not worth it: this connection closes
                return


def _host(url: httpx.URL) -> str:
    """The host as DNS knows it: IDNA-encoded, IPv6 without brackets."""
    return url.raw_host.decode("ascii")
