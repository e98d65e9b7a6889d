"""Hostile response bodies, built in pieces so the test process never holds what they expand to."""

from __future__ import annotations

import gzip
import zlib

MB = 2**20


def gzip_stream(head: bytes, filler: bytes, size: int) -> bytes:
    """`head` then `filler` repeated up to `size` bytes, gzip-compressed 1 MB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    out = [packer.compress(head)]
    block = filler * (MB // len(filler))
    left = size - len(head)
    while left > 0:
        out.append(packer.compress(block[:left]))
        left -= len(block)
    out.append(packer.flush())
    return b"".join(out)


def nested_gzip_bomb(decoded_size: int) -> bytes:
    """`Content-Encoding: gzip, gzip`: a few KB on the wire, `decoded_size` bytes of feed."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Bomb</title>'
    return gzip.compress(gzip_stream(head, b" ", decoded_size), 9, mtime=0)


def gzip_with_trailing_junk(body: bytes, junk_size: int) -> bytes:
    """`gzip, gzip` whose inner stream ends after `body`, then `junk_size` zeros follow.

    The outer layer decodes to the junk; the inner layer, already at its end, must not
    keep it (zlib's `unused_data` would grow with every byte).
    """
    outer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    out = [outer.compress(gzip.compress(body, mtime=0))]
    block = bytes(MB)
    for _ in range(junk_size // MB):
        out.append(outer.compress(block))
    out.append(outer.flush())
    return b"".join(out)
