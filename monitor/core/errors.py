"""One error tree for everything a user or operator can get wrong.

The CLI catches `MonitorError` only: it prints the message and the hint and
exits 2 for user errors (bad config, bad watchlist, bad input) or 1 for
runtime failures. Foreign exceptions are wrapped at the boundary
(`raise FetchError(url, ...) from exc`) so no module leaks httpx, sqlite or
telegram errors to its callers.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class MonitorError(Exception):
    """Base error: a one-line message, an optional hint on how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UserError(MonitorError):
    """Bad input from the user: exit code 2."""

    exit_code = 2


class ConfigError(UserError):
    """A config file problem, reported as `file: [section] key: message`."""

    def __init__(self, path: Path | str | None, key: str, message: str, hint: str = "") -> None:
        where = f"{path}: " if path else ""
        key_part = f"{key}: " if key else ""
        super().__init__(f"{where}{key_part}{message}", hint)
        self.path = path
        self.key = key


class WatchlistError(UserError):
    """One or more watchlist problems, each `file:line: message`."""

    def __init__(self, problems: list[str], hint: str = "") -> None:
        super().__init__("\n".join(problems), hint)
        self.problems = problems


class FetchError(MonitorError):
    """A feed could not be fetched or parsed; recorded per feed, never fatal to a cycle."""

    def __init__(self, url: str, message: str, hint: str = "") -> None:
        super().__init__(f"{url}: {message}", hint)
        self.url = url
        self.reason = message


class MatchError(MonitorError):
    """An article could not be matched (a matcher bug, or memory ran out on hostile
    text): recorded as its feed's error, so the feed backs off and the cycle goes on."""


class StoreError(MonitorError):
    """The database could not be opened or written."""


class DatabaseBusy(StoreError):
    """Another process held the write lock longer than the busy timeout: try again."""


class DeliveryError(MonitorError):
    """A message could not be delivered; `permanent` ones are not retried.

    `maybe_delivered`: the request reached Telegram but its answer did not come back
    (a read timeout), so the message may be in the chat already: a retry then risks a
    duplicate, and waits longer (Telegram has no idempotency key).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        chat_gone: bool = False,
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.chat_gone = chat_gone
        self.maybe_delivered = maybe_delivered


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'timezone'?)" for a misspelt key or name, or "" when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
