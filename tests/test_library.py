"""Hot reload of watchlists: a good edit applies, a broken one keeps the last good set."""

from __future__ import annotations

import os

import pytest
from conftest import SAMPLE_WATCHLIST

from monitor.core.errors import WatchlistError
from monitor.core.models import Article
from monitor.matching.library import WatchlistLibrary


def touch_write(path, text):
    """Write and move the mtime forward, so a change within the same tick is still seen."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def topics_hit(library, title):
    return {
        h.topic for h in library.matcher.match(Article(id="a", feed_url="", url="", title=title))
    }


def test_edit_applies_at_the_next_refresh(sample_watchlists):
    seen = []
    library = WatchlistLibrary(sample_watchlists, on_reload=seen.append)
    assert topics_hit(library, "Ken Salazar speaks") == set()
    touch_write(
        sample_watchlists / "sample.toml",
        SAMPLE_WATCHLIST + '\n[[topics]]\nid = "salazar"\ntitle = "S"\nterms = ["Ken Salazar"]\n',
    )
    outcome = library.refresh()
    assert outcome.changed and seen == [outcome]
    assert topics_hit(library, "Ken Salazar speaks") == {"salazar"}
    assert not library.refresh().changed  # nothing changed since


def test_broken_edit_keeps_previous_set_and_reports_once(sample_watchlists):
    seen = []
    library = WatchlistLibrary(sample_watchlists, on_reload=seen.append)
    touch_write(
        sample_watchlists / "sample.toml",
        SAMPLE_WATCHLIST.replace('priority = "high"', "priority = high"),
    )
    outcome = library.refresh()
    assert not outcome.changed
    assert outcome.errors and "sample.toml:" in outcome.errors[0]
    assert topics_hit(library, "Sheinbaum travels") == {"sheinbaum"}  # still the old set
    library.refresh()
    assert len(seen) == 1  # the same broken state is reported once, not every cycle
    touch_write(sample_watchlists / "sample.toml", SAMPLE_WATCHLIST)
    assert library.refresh().changed and len(seen) == 2


def test_added_and_removed_files_are_changes(sample_watchlists):
    library = WatchlistLibrary(sample_watchlists)
    extra = sample_watchlists / "extra.toml"
    touch_write(
        extra, '[watchlist]\nid = "extra"\n[[topics]]\nid = "x"\nterms = ["Mérida Initiative"]\n'
    )
    assert library.refresh().added == ("extra",)
    assert topics_hit(library, "Merida Initiative revived") == {"x"}
    extra.unlink()
    assert library.refresh().removed == ("extra",)
    assert library.get("extra") is None


def test_broken_watchlists_at_start_are_an_error(tmp_path):
    (tmp_path / "bad.toml").write_text("[watchlist\n", encoding="utf-8")
    with pytest.raises(WatchlistError) as caught:
        WatchlistLibrary(tmp_path)
    assert "bad.toml:1: TOML syntax error" in str(caught.value)
