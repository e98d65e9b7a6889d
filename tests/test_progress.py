"""A long first poll says how far it has come (issue 16, item 13)."""

from __future__ import annotations

import io
import logging

from monitor.core.progress import SHOW_FROM_FEEDS, Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_counter_rewritten_in_place():
    out = Terminal()
    progress = Progress(120, stream=out)
    progress.done(16, 700)
    progress.done(16, 650)
    progress.close()
    assert out.getvalue() == "\r16/120 feeds, 700 new articles\r32/120 feeds, 1350 new articles\n"


def test_a_log_gets_a_summary_line_every_so_often(caplog):
    now = [0.0]
    progress = Progress(300, stream=io.StringIO(), clock=lambda: now[0], every=10)
    with caplog.at_level(logging.INFO, logger="monitor.core.progress"):
        for _ in range(10):
            now[0] += 3
            progress.done(16, 100)
    lines = [r.getMessage() for r in caplog.records]
    assert (
        lines
        == [
            "progress 64/300 feeds, 400 new articles, 12s",
            "progress 128/300 feeds, 800 new articles, 24s",
            "progress 144/300 feeds, 900 new articles, 27s",
        ][: len(lines)]
    )
    assert len(lines) == 2 or len(lines) == 3


def test_a_small_cycle_says_nothing_extra():
    out = Terminal()
    progress = Progress(SHOW_FROM_FEEDS - 1, stream=out)
    progress.done(10, 10)
    progress.close()
    assert out.getvalue() == ""
