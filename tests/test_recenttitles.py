"""The compact index of the last 48 hours' titles, against a plain model of what it must find."""

from __future__ import annotations

import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.text import recenttitles
from monitor.text.recenttitles import RecentTitles
from monitor.text.titles import TitleIndex, filing

WORDS = [f"w{n}" for n in range(12)]  # a small vocabulary: titles share hashes often


def sharing(a: str, b: str) -> bool:
    return bool(set(filing(a)[1]) & set(filing(b)[1]))


title = st.lists(st.sampled_from(WORDS), min_size=4, max_size=8, unique=True).map(" ".join)
# operations: ("add", [titles]) stores a batch a minute after the last one; ("prune", n)
# lets go of everything older than the last n minutes
operation = st.one_of(
    st.tuples(st.just("add"), st.lists(title, min_size=1, max_size=30)),
    st.tuples(st.just("prune"), st.integers(0, 6)),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(operation, max_size=25), st.lists(title, min_size=1, max_size=5))
def test_it_finds_every_title_in_the_window_that_shares_a_hash_and_none_outside(
    monkeypatch_capacity, operations, lookups
):
    index, model = RecentTitles(), []  # model: (rowid, key, minute)
    rowid, minute, gaps = 0, 0, random.Random(len(operations))
    for kind, value in operations:
        if kind == "add":
            minute += 1
            for key in value:
                rowid += gaps.randint(1, 3)  # rowids have gaps (deleted rows)
                index.add(rowid, key, f"{minute:04d}")
                model.append((rowid, key, minute))
        else:
            since = minute - value
            index.prune(f"{since:04d}")
            model = [row for row in model if row[2] >= since]
        assert len(index) == len(model)
        for key in lookups + [row[1] for row in model[-3:]]:
            found = index.candidates(key)
            expected = {r for r, other, _ in model if sharing(key, other)}
            assert expected <= set(found), "a title in the window was missed"
            assert set(found) <= {r for r, _, _ in model}, "a title outside the window came back"
            assert len(found) == len(set(found))


@pytest.fixture
def monkeypatch_capacity(monkeypatch):
    """A tiny table: every run of the property above grows, wraps around and rebuilds it;
    and no cap on the titles per hash (the small vocabulary shares hashes a lot)."""
    monkeypatch.setattr(recenttitles, "MIN_CAPACITY", 8)
    monkeypatch.setattr(recenttitles, "PER_HASH", 10**9)


def test_rows_are_filed_once_and_older_rows_are_ignored():
    index = RecentTitles()
    index.add(5, "mexico dea agents immunity", "2026-01-01")
    index.add(5, "mexico dea agents immunity", "2026-01-01")
    index.add(3, "mexico dea agents immunity", "2026-01-01")
    assert len(index) == 1 and index.last == 5
    assert index.candidates("mexico dea agents immunity") == [5]


def test_rowids_past_four_billion_are_found():
    index = RecentTitles()
    start = 5 * 2**32
    for n in range(100):
        index.add(start + n, f"story {n} about mexico and the dea", "2026-01-01")
    assert index.candidates("story 42 about mexico and the dea")[0] == start + 42
    index.prune("2026-01-02")
    index.add(start + 2**33, "story 7 about mexico and the dea", "2026-01-03")
    assert index.candidates("story 7 about mexico and the dea") == [start + 2**33]


def test_a_template_repeated_all_day_fills_a_hash_only_so_far():
    index = RecentTitles()
    for n in range(3_000):  # one hash shared by all: {lottery, results, draw}
        index.add(n + 1, f"lottery results for draw {n}", "2026-01-01")
    # each title's own hashes still hold it; the shared one holds the first PER_HASH
    found = index.candidates("lottery results for draw 2999")
    assert 2_999 + 1 in found and len(found) <= recenttitles.PER_HASH + 4
    assert index._filled == 3_000 * 4 + recenttitles.PER_HASH  # 5 hashes a title, 1 shared
    assert (2_500 + 1) in index.candidates("UPDATE lottery results for draw 2500")


def test_expired_titles_give_their_memory_back():
    index = RecentTitles()
    for n in range(5_000):
        index.add(n + 1, f"headline {n} of the wire {n % 7}", "2026-01-01")
    grown = index.capacity
    assert grown > recenttitles.MIN_CAPACITY
    index.prune("2026-01-02")
    assert len(index) == 0 and index.capacity == recenttitles.MIN_CAPACITY
    assert index.candidates("headline 7 of the wire 0") == []


def test_it_keeps_a_small_fraction_of_the_memory_of_the_dict_index():
    rng = random.Random(7)
    vocabulary = [f"word{n}" for n in range(20_000)]
    keys = [" ".join(rng.sample(vocabulary, rng.randint(6, 12))) for _ in range(5_000)]

    def allocated(build):
        tracemalloc.start()
        try:
            kept = build()
            return tracemalloc.get_traced_memory()[0], kept
        finally:
            tracemalloc.stop()

    def compact():
        index = RecentTitles()
        for n, key in enumerate(keys, 1):
            index.add(n, key, "2026-01-01T00:00:00+00:00")
        return index

    def dicts():
        index = TitleIndex()
        for n, key in enumerate(keys, 1):
            index.add(f"https://news.example/{n:012d}", key)
        return index

    small, index = allocated(compact)
    large, _ = allocated(dicts)
    assert small < large / 4, (small, large)
    assert index.candidates(keys[123])[0] == 124
