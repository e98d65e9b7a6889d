"""Issue 12, finding 1: one long word must never poison a cycle.

The typo index used to enumerate every deletion variant of each article word,
so a 4,000-letter "word" in one title ran `poll --once` out of memory and the
failure, never recorded, repeated every cycle. Now fields are cut at parse,
words longer than any term word skip the typo index, and an article that still
fails to match is recorded as its feed's error while the rest is stored.
"""

from __future__ import annotations

import asyncio
import io
import random
import sqlite3
import string
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SHIPPED_WATCHLISTS, rss, run_monitor
from fakes.feed_server import FeedServer, Route
from test_worker import make_runtime

from monitor.core.models import Article, Feed, FetchResult, FieldLimits
from monitor.feeds.parse import parse_feed
from monitor.matching import matcher as matcher_module
from monitor.matching.matcher import Matcher
from monitor.matching.typos import MAX_WORD_LETTERS
from monitor.matching.watchlists import load_watchlists
from monitor.pipeline.cycle import poll_cycle

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def long_word(letters: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(letters))


@pytest.fixture(scope="module")
def shipped_matcher() -> Matcher:
    return Matcher(load_watchlists(SHIPPED_WATCHLISTS))


def variant_letters_while_matching(matcher: Matcher, article: Article, monkeypatch) -> int:
    """The letters of every typo-index variant built while matching `article`: the work
    that used to grow with the cube of a word's length."""
    built = [0]
    real = matcher_module._deletions

    def counting(word: str, depth: int) -> set[str]:
        variants = real(word, depth)
        built[0] += sum(map(len, variants))
        return variants

    monkeypatch.setattr(matcher_module, "_deletions", counting)
    matcher.match(article)
    monkeypatch.setattr(matcher_module, "_deletions", real)
    return built[0]


def test_matching_work_grows_linearly_with_word_length(shipped_matcher, monkeypatch):
    work = {}
    for letters in (100, 1_000, 4_000):
        title = f"Sheinbaum habla {long_word(letters)} sobre seguridad"
        article = Article(id=f"a{letters}", feed_url="f", url="u", title=title)
        work[letters] = variant_letters_while_matching(shipped_matcher, article, monkeypatch)
    # the three ordinary words cost the same each time; the long word adds nothing
    assert work[4_000] <= work[100] * 1.01 + 100, work


def test_a_megabyte_title_is_cut_at_parse_and_matches_in_bounded_memory(shipped_matcher):
    title = "Sheinbaum " + long_word(1_000_000) + " " + "b" * 1_000_000
    body = rss([{"title": title, "link": "https://example.org/a"}])
    result = FetchResult(Feed("https://example.org/feed"), 200, body)
    limits = FieldLimits(title=500)
    tracemalloc.start()
    try:
        parsed = parse_feed(result, NOW, limits=limits)
        hits = shipped_matcher.match(parsed.articles[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    article = parsed.articles[0]
    assert len(article.title) <= 500 and article.title.endswith("…")
    assert [h.topic for h in hits] == ["claudia-sheinbaum"]
    assert peak < 60 * 2**20, f"peak {peak / 2**20:.0f} MiB"  # the body itself is 2 MB


def test_cut_text_keeps_whole_words_and_the_limit():
    words = " ".join(["palabra"] * 400)
    body = rss([{"title": words, "description": words, "link": "https://example.org/a"}])
    result = FetchResult(Feed("https://example.org/feed"), 200, body)
    article = parse_feed(result, NOW, limits=FieldLimits(title=100, summary=300)).articles[0]
    assert len(article.title) <= 100 and article.title.endswith("palabra…")
    assert len(article.summary) <= 300 and article.summary.endswith("palabra…")


def test_term_words_past_a_real_word_get_no_typo_tolerance():
    assert matcher_module.allowed_typos(MAX_WORD_LETTERS, 80) > 0
    assert matcher_module.allowed_typos(MAX_WORD_LETTERS + 1, 80) == 0


def write_config(tmp_path: Path, urls: list[str], extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    feeds = "".join(f'[[feeds]]\nurl = "{url}"\n' for url in urls)
    config.write_text(
        f'[storage]\npath = "monitor.db"\n[watchlists]\npath = "{SHIPPED_WATCHLISTS.as_posix()}"\n'
        f'[digest]\ntimezone = "UTC"\nhtml_dir = "pages"\n[poll]\ntimeout_seconds = 5\n'
        f"{extra}{feeds}",
        encoding="utf-8",
    )
    return config


def test_poll_once_stores_poison_and_innocent_feeds(tmp_path):
    poison_items = [
        {"title": f"Sheinbaum {long_word(4_000, seed)}", "link": f"https://p.example/{seed}"}
        for seed in range(3)
    ]
    poison_items.append({"title": "x" * 1_000_000, "link": "https://p.example/huge"})
    innocent = [
        {"title": "López Obrador critica la Iniciativa Mérida", "link": "https://i.example/1"}
    ]
    with FeedServer() as server:
        poison_url = server.set("/poison.xml", Route(body=rss(poison_items)))
        innocent_url = server.set("/innocent.xml", Route(body=rss(innocent)))
        config = write_config(tmp_path, [poison_url, innocent_url])
        done = run_monitor("poll", "--once", "--config", str(config), cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    db = sqlite3.connect(tmp_path / "monitor.db")
    titles = dict(db.execute("SELECT url, title FROM articles"))
    assert len(titles) == 5
    assert max(len(t) for t in titles.values()) <= 1_000
    topics = {t for (t,) in db.execute("SELECT topic FROM hits")}
    assert {"claudia-sheinbaum", "lopez-obrador", "merida-initiative"} <= topics
    errors = [e for (e,) in db.execute("SELECT last_error FROM feeds") if e]
    assert errors == []


class ExplodingMatcher:
    """A matcher that runs out of memory on one article, as a hostile one once did."""

    def __init__(self, real: Matcher) -> None:
        self.real = real

    def match(self, article: Article):
        if "explode" in article.title:
            raise MemoryError
        return self.real.match(article)


def test_an_article_that_fails_to_match_fails_only_its_feed(config, clock):
    """Matched in-process (a small cycle): the failing feed records the error and backs
    off; the innocent feed stored in the same transaction is kept."""
    bad_item = {"title": "explode Sheinbaum", "link": "https://b.example/1"}
    good_item = {"title": "Sheinbaum visita Sinaloa", "link": "https://g.example/1"}
    with FeedServer() as server:
        bad = server.set("/bad.xml", Route(body=rss([bad_item])))
        good = server.set("/good.xml", Route(body=rss([good_item])))
        rt = make_runtime(config, clock, [bad, good], io.StringIO())
        rt.library.matcher = ExplodingMatcher(rt.library.matcher)  # type: ignore[assignment]
        report = asyncio.run(poll_cycle(rt))
    assert (report.feeds_failed, report.feeds_ok) == (1, 1)
    rows = {r["url"]: r for r in rt.store.feed_rows()}
    assert "matching failed" in rows[bad]["last_error"]
    assert "MemoryError" in rows[bad]["last_error"]
    assert rows[bad]["failures"] == 1 and rows[good]["last_error"] is None
    titles = [row["title"] for row in rt.store.db.query("SELECT title FROM articles")]
    assert titles == ["Sheinbaum visita Sinaloa"]
    rt.store.close()
