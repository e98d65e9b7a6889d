"""The watchlists in force and their compiled matcher, reloaded when files change.

A reload validates the whole new set first: a broken file keeps the last good
set running and reports `file:line: message` once per change, never once per
cycle. Adding or removing a file counts as a change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.core.errors import WatchlistError
from monitor.matching.lemmas import lemmatizer
from monitor.matching.matcher import Matcher
from monitor.matching.watchlists import Watchlist, check_watchlists, watchlist_files

log = logging.getLogger(__name__)


def compile_matcher(watchlists: Sequence[Watchlist]) -> Matcher:
    """The one way watchlists are compiled, wherever they are matched (the worker, its
    parse workers, `monitor match`, backtests): lower-case words by lemma (lemmas.py)."""
    return Matcher(watchlists, lemma=lemmatizer())


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    changed: bool
    errors: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # watchlist ids that disappeared
    added: tuple[str, ...] = ()


class WatchlistLibrary:
    def __init__(
        self, path: Path, on_reload: Callable[[ReloadOutcome], None] | None = None
    ) -> None:
        self.path = path
        self.on_reload = on_reload
        self.watchlists: list[Watchlist] = []
        self.matcher = Matcher([])
        self._fingerprint: tuple = ()
        self._failed_fingerprint: tuple | None = None
        report = check_watchlists(path)
        if not report.ok:
            raise WatchlistError(report.errors, hint="run `monitor watchlists check` after fixing")
        self._install(report.watchlists)
        self._fingerprint = self._current_fingerprint()

    def _install(self, watchlists: list[Watchlist]) -> None:
        self.watchlists = watchlists
        self.matcher = compile_matcher(watchlists)

    def _current_fingerprint(self) -> tuple:
        try:
            return tuple(
                (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in watchlist_files(self.path)
            )
        except OSError:
            return ()

    def refresh(self) -> ReloadOutcome:
        """Reload if any file changed; keep the last good set when the new one is broken."""
        fingerprint = self._current_fingerprint()
        if fingerprint == self._fingerprint or fingerprint == self._failed_fingerprint:
            return ReloadOutcome(changed=False)
        report = check_watchlists(self.path)
        if not report.ok:
            self._failed_fingerprint = fingerprint
            for error in report.errors:
                log.error("watchlist reload rejected, keeping the previous set: %s", error)
            outcome = ReloadOutcome(changed=False, errors=tuple(report.errors))
        else:
            before = {w.id for w in self.watchlists}
            self._install(report.watchlists)
            self._fingerprint = fingerprint
            self._failed_fingerprint = None
            after = {w.id for w in self.watchlists}
            outcome = ReloadOutcome(
                changed=True,
                removed=tuple(sorted(before - after)),
                added=tuple(sorted(after - before)),
            )
            log.info(
                "watchlists reloaded count=%d topics=%d",
                len(self.watchlists),
                sum(len(w.topics) for w in self.watchlists),
            )
        if self.on_reload:
            self.on_reload(outcome)
        return outcome

    def get(self, watchlist_id: str) -> Watchlist | None:
        return next((w for w in self.watchlists if w.id == watchlist_id), None)

    def topic_titles(self) -> dict[tuple[str, str], str]:
        return {(w.id, t.id): t.title for w in self.watchlists for t in w.topics}

    def watchlist_titles(self) -> dict[str, str]:
        return {w.id: w.title for w in self.watchlists}
