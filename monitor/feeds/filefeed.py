"""file:// feeds, read from disk, and the failed result every fetch path returns."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from monitor.core.models import Feed, FetchResult


def read_file(feed: Feed, started: float, max_bytes: int) -> FetchResult:
    """A file:// feed's bytes, at most `max_bytes` of them."""
    path = Path(urllib.request.url2pathname(urlsplit(feed.url).path))
    try:
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except OSError as exc:
        return failed(feed, started, f"cannot read file: {exc.strerror or exc}")
    return FetchResult(
        feed,
        status=200,
        body=body[:max_bytes],
        truncated=len(body) > max_bytes,
        final_url=feed.url,
        elapsed=time.monotonic() - started,
    )


def failed(feed: Feed, started: float, error: str, status: int | None = None) -> FetchResult:
    return FetchResult(feed, status=status, error=error, elapsed=time.monotonic() - started)


def open_files_limit() -> int:
    try:
        import resource  # Unix only
    except ImportError:
        return 512
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
