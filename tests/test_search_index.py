"""The /search index is filled once a cycle (store m005, m006): what it holds and when.

FTS5's own integrity check compares the index with the articles table; a 'delete'
of a row that was never indexed, or a row indexed twice, makes it fail.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
import sqlite_utils

from monitor.core.models import Article
from monitor.storage import Store
from monitor.storage.schema import migrations


def articles(start: int, count: int, title: str = "Iniciativa Mérida") -> list[Article]:
    return [
        Article(f"a{i}", "f", f"https://e.org/{i}", f"{title} {i}", "Bicentennial framework")
        for i in range(start, start + count)
    ]


def found(store: Store, words: str = "merida") -> set[str]:
    return {row["id"] for row in store.search_articles(words, limit=1000)}


def assert_index_consistent(store: Store) -> None:
    try:
        store.db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as exc:  # pragma: no cover - what the test exists to catch
        pytest.fail(f"search index out of step with articles: {exc}")


def test_articles_become_searchable_when_indexed_once(store, clock):
    store.add_new_articles("f", articles(0, 30), clock.now)
    assert found(store) == set()  # stored, waiting for the end of the cycle
    assert store.index_new_articles() == 30
    assert found(store) == {f"a{i}" for i in range(30)}
    assert store.index_new_articles() == 0  # nothing twice
    store.add_new_articles("f", articles(30, 5), clock.now)
    assert store.index_new_articles() == 5
    assert len(found(store)) == 35
    assert_index_consistent(store)


def test_pruning_indexed_and_pending_rows_keeps_the_index_whole(store, clock):
    old = clock.now - timedelta(days=120)
    store.add_new_articles("f", articles(0, 10), old)
    store.index_new_articles()
    store.add_new_articles("f", articles(10, 10), old)  # stored, never indexed
    store.add_new_articles("f", articles(20, 3), clock.now)
    assert store.prune_batch(clock.now - timedelta(days=90)) == 20
    assert_index_consistent(store)  # deleting never-indexed rows touched no index entry
    assert found(store) == set()
    assert store.index_new_articles() == 3
    assert found(store) == {"a20", "a21", "a22"}
    assert_index_consistent(store)


def test_after_every_article_is_pruned_new_rows_wait_above_the_mark(store, clock):
    """Once every article is pruned SQLite numbers rows from 1 again: the mark follows."""
    old = clock.now - timedelta(days=120)
    store.add_new_articles("f", articles(0, 5), old)
    store.index_new_articles()
    store.prune_batch(clock.now - timedelta(days=90))
    store.add_new_articles("f", articles(5, 2, title="Mérida again"), clock.now)
    assert found(store) == set()  # a new row, like any other: indexed in the next pass
    assert store.index_new_articles() == 2
    assert found(store) == {"a5", "a6"}
    assert_index_consistent(store)


def test_deleting_the_newest_rows_keeps_later_rows_out_of_the_way(store, clock):
    """Delete indexed and pending rows from the top in any order, then store more."""
    store.add_new_articles("f", articles(0, 6), clock.now)
    store.index_new_articles()  # a0..a5 indexed
    store.add_new_articles("f", articles(6, 3), clock.now)  # a6..a8 pending
    # newest first, pending ones mixed in: each deletion sees the mark of the one before
    for article_id in ("a8", "a5", "a7", "a4", "a6"):
        store.db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        assert_index_consistent(store)
    store.add_new_articles("f", articles(9, 2), clock.now)  # rowids 5 and 6 again
    assert store.index_new_articles() == 2
    assert found(store) == {"a0", "a1", "a2", "a3", "a9", "a10"}
    store.db.execute("DELETE FROM articles WHERE id IN ('a10', 'a1')")
    assert_index_consistent(store)
    assert found(store) == {"a0", "a2", "a3", "a9"}


def database_before(migration: str, path) -> sqlite_utils.Database:
    """A database as the version before `migration` left it, with articles o0..o3."""
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before=migration)
    old["articles"].insert_all(
        {"id": f"o{i}", "feed_url": "f", "url": f"u{i}", "title": f"Mérida {i}", "seen_at": "x"}
        for i in range(4)
    )
    return old


def test_upgrading_from_the_insert_trigger_keeps_reused_rows(tmp_path, clock):
    """A database from before m006, where m005's trigger indexed a row reused under the mark."""
    path = tmp_path / "m005.db"
    old = database_before("m006_no_insert_trigger", path)
    old.execute(  # what that version's index_new_articles did
        "INSERT INTO articles_fts (rowid, title, summary) SELECT rowid, title, summary FROM articles"
    )
    old.execute("UPDATE search_index SET indexed_rowid = 4")
    old.execute("DELETE FROM articles WHERE rowid > 1")  # the mark stayed at 4
    old["articles"].insert(
        {"id": "r", "feed_url": "f", "url": "r", "title": "Mérida r", "seen_at": "x"}
    )
    old.close()  # "r" has rowid 2, under the mark: the insert trigger indexed it at once
    store = Store(path)
    try:
        assert found(store) == {"o0", "r"}
        assert store.db.execute("SELECT indexed_rowid FROM search_index").fetchone() == (2,)
        store.add_new_articles("f", articles(0, 2), clock.now)
        assert store.index_new_articles() == 2
        assert found(store) == {"o0", "r", "a0", "a1"}
        assert_index_consistent(store)
    finally:
        store.close()


def test_upgrading_keeps_what_the_old_trigger_indexed(tmp_path, clock):
    path = tmp_path / "old.db"
    old = database_before("m005_search_in_batches", path)
    old.close()
    store = Store(path)
    try:
        assert found(store) == {"o0", "o1", "o2", "o3"}
        store.add_new_articles("f", articles(0, 2), clock.now)
        assert store.index_new_articles() == 2
        assert len(found(store)) == 6
        assert_index_consistent(store)
    finally:
        store.close()


def test_a_cycle_waiting_on_a_slow_feed_indexes_what_it_stored_meanwhile(config, clock):
    """While the cycle waits for a slow server, the writer is idle: the articles stored
    so far become searchable then, not only when the cycle ends."""
    import asyncio
    import io

    from conftest import rss
    from fakes.feed_server import FeedServer, Route
    from test_worker import make_runtime

    from monitor.pipeline.cycle import poll_cycle

    items = [{"title": f"Mérida story {i}", "link": f"https://e.org/{i}"} for i in range(3)]
    with FeedServer() as server:
        fast = server.set("/fast.xml", Route(body=rss(items)))
        slow = server.set("/slow.xml", Route(body=rss(items[:1]), delay=1.5))
        rt = make_runtime(config, clock, [fast, slow], io.StringIO())
        reader = Store(config.storage.path)  # another connection, as /search in a bot

        async def run() -> tuple[int, bool]:
            cycle = asyncio.create_task(poll_cycle(rt))
            await asyncio.sleep(1.0)  # the fast feed is stored; the slow one still waits
            indexed = len(reader.search_articles("merida"))  # what the index holds
            busy = not cycle.done()
            await cycle
            return indexed, busy

        indexed, cycle_was_running = asyncio.run(run())
        reader.close()
    assert cycle_was_running
    assert indexed == 3


def test_a_big_cycle_indexes_as_it_goes_and_leaves_little_for_the_end(config, clock, monkeypatch):
    """Every INDEX_EVERY_ARTICLES stored, the index catches up: the end of the cycle
    (one core busy, the other idle) only indexes the last few."""
    import asyncio
    import io

    from conftest import rss
    from fakes.feed_server import FeedServer, Route
    from test_worker import make_runtime

    from monitor.pipeline import cycle as worker

    monkeypatch.setattr(worker, "INDEX_EVERY_ARTICLES", 20)
    monkeypatch.setattr(worker, "FEEDS_PER_TRANSACTION", 1)  # 9 articles a batch
    monkeypatch.setattr(worker, "INDEX_WHEN_IDLE_SECONDS", 60)  # only the count rule here
    indexed: list[int] = []
    original = Store.index_new_articles
    monkeypatch.setattr(Store, "index_new_articles", lambda s: indexed.append(original(s)) or 0)
    with FeedServer() as server:
        urls = [
            server.set(
                f"/f{n}.xml",
                Route(
                    body=rss(
                        [
                            {"title": f"Mérida {n} {i}", "link": f"https://e.org/{n}/{i}"}
                            for i in range(9)
                        ]
                    )
                ),
            )
            for n in range(8)
        ]
        rt = make_runtime(config, clock, urls, io.StringIO())
        report = asyncio.run(worker.poll_cycle(rt))
    assert report.articles_new == 72
    assert indexed == [27, 27, 18]  # every third feed, then the rest at the end
    assert len(found(rt.store)) == 72
    assert_index_consistent(rt.store)
