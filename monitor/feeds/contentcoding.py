"""Content-Encoding decoded layer by layer, with every layer held to `max_bytes`.

httpx decodes gzip and deflate, but each of its decoders inflates a whole
network chunk in one call, and with several layers (`Content-Encoding: gzip,
gzip`) the inner one inflates everything the outer one produced: a 1,898-byte
response became 2.1 GB in memory before `max_bytes` could look at it (issue
12, finding 3). So the poller reads the raw stream and decodes it here: zlib's
`max_length` caps every step at STEP bytes, each layer's output counts against
the limit as it streams, and decoding stops there, so memory stays within
`max_bytes` plus a few steps whatever the layers expand to. Bytes after the end
of a layer's stream are ignored, as httpx ignores them, but still counted: the
outer layer decoded them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from monitor.core.errors import FetchError

STEP = 64 * 1024  # the most one decompress call may return
ACCEPT_ENCODING = "gzip, deflate"  # what we decode; sent so servers offer nothing else
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


class _Layer:
    """One encoding's decompressor, returning its output STEP bytes at a time."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._inflate = zlib.decompressobj(_WBITS[name])
        # servers send "deflate" both zlib-wrapped (the RFC) and raw; httpx tries both too
        self._may_be_raw = name == "deflate"

    def pieces(self, data: bytes) -> Iterator[bytes]:
        while not self._inflate.eof:
            try:
                out = self._inflate.decompress(data, STEP)
            except zlib.error as exc:
                if self._may_be_raw:
                    self._may_be_raw = False
                    self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise FetchError(self.url, f"corrupt {self.name} body: {exc}") from exc
            self._may_be_raw = False  # only the first call can tell, as in httpx
            data = self._inflate.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < STEP:  # a full step may leave output in zlib
                return


class BodyDecoder:
    """Raw response bytes in, decoded bytes out: at most `limit` from every layer.

    `decode(raw)` yields the decoded pieces of one raw chunk, each layer draining
    what it was given; once any layer's output would pass `limit`, it is cut at
    the limit, `exceeded` is set and the layers before it stop too: whatever they
    produced next would be thrown away.
    """

    def __init__(self, url: str, content_encoding: str | None, limit: int) -> None:
        names = [name.strip().lower() for name in (content_encoding or "").split(",")]
        names = [name for name in names if name and name != "identity"]
        unknown = [name for name in names if name not in _WBITS]
        if unknown:
            raise FetchError(url, f"unsupported Content-Encoding: {', '.join(unknown)}")
        self._layers = [_Layer(url, name) for name in reversed(names)]  # last applied first
        self._counts = [0] * (len(self._layers) + 1)  # output of each layer; raw at 0
        self._deepest_full = -1  # the last layer (0: the raw body) that reached the limit
        self.limit = limit

    @property
    def exceeded(self) -> bool:
        return self._deepest_full >= 0

    def decode(self, raw: bytes) -> Iterator[bytes]:
        if not self.exceeded:
            yield from self._through(0, raw)

    def _through(self, level: int, data: bytes) -> Iterator[bytes]:
        """`data`, the output of layer `level` (0: the raw body), through the layers after it."""
        room = self.limit - self._counts[level]
        if len(data) > room:
            data = data[: max(room, 0)]
            self._deepest_full = max(self._deepest_full, level)
        self._counts[level] += len(data)
        if level == len(self._layers):
            if data:
                yield data
            return
        for piece in self._layers[level].pieces(data):
            yield from self._through(level + 1, piece)
            if self._deepest_full > level:
                return
