"""Issue 13: one connection per thread, so nothing uncommitted is ever sent or digested.

Before, the bot, the drain and the digest read through the writer thread's
connection while its batch transaction was open: a row could be sent, or a
hit digested, and then rolled back.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from conftest import outbox_rows

from monitor.core.models import Article, Hit


def article(n: int) -> Article:
    return Article(
        id=f"a{n}",
        feed_url="https://f.example/rss",
        url=f"https://f.example/{n}",
        title=f"Sheinbaum story number {n} of the day",
    )


def hit(n: int) -> Hit:
    return Hit(f"a{n}", "officials", "claudia-sheinbaum", "Sheinbaum", 100.0, "…")


class Rollback(Exception):
    pass


def in_open_transaction(store, work, check):
    """Run `work` in a transaction on another thread, call `check` while it is open, then
    roll it back."""
    opened, checked = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def writer():
        try:
            with store.transaction():
                work()
                opened.set()
                checked.wait(10)
                raise Rollback
        except Rollback:
            pass
        except BaseException as exc:  # pragma: no cover - reported below
            failure.append(exc)
            opened.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert opened.wait(10)
    try:
        check()
    finally:
        checked.set()
        thread.join(10)
    assert not failure, failure


def test_an_uncommitted_outbox_row_is_invisible_to_other_threads(store, clock):
    seen = []
    in_open_transaction(
        store,
        lambda: store.enqueue("42", "alert", "alert:42:a1", {"text": "x"}, clock.now),
        lambda: seen.extend(store.outbox_due_chats(clock.now)),
    )
    assert seen == []
    assert outbox_rows(store) == []  # rolled back


def test_a_digest_never_sees_an_uncommitted_hit(store, clock):
    """The digest window ends at the highest hit id it read. SQLite has one writer at a
    time, so committed ids only grow; reading an uncommitted id (and moving past it)
    was how a rolled-back, re-stored hit was skipped."""
    store.add_new_articles("https://f.example/rss", [article(1), article(2)], clock.now)
    store.add_hits([hit(1)], clock.now)
    [first] = store.hits_after(0)
    seen_while_open: list[dict] = []
    in_open_transaction(
        store,
        lambda: store.add_hits([hit(2)], clock.now),
        lambda: seen_while_open.extend(store.hits_after(first["hit_id"])),
    )
    assert seen_while_open == []
    store.add_hits([hit(2)], clock.now + timedelta(seconds=1))
    [again] = store.hits_after(first["hit_id"])
    assert again["article_id"] == "a2"


def test_hit_ids_are_never_reused_even_after_every_hit_is_pruned(store, clock):
    """Housekeeping deletes old hits; a quiet quarter could empty the table, and plain
    rowids would then start again at 1, below every chat's digest mark."""
    store.add_new_articles("https://f.example/rss", [article(1), article(2)], clock.now)
    store.add_hits([hit(1)], clock.now)
    [first] = store.hits_after(0)
    store.db.execute("DELETE FROM hits")
    store.add_hits([hit(2)], clock.now)
    [second] = store.hits_after(0)
    assert second["hit_id"] > first["hit_id"]


def test_a_write_from_another_thread_waits_and_survives_a_rollback(store, clock):
    """The bot's write while a batch is open lands after it, not inside it."""
    done = []

    def bot_write():
        store.subscribe("7", "officials", [], clock.now)
        done.append(True)

    other = threading.Thread(target=bot_write)

    def start_other():
        other.start()

    in_open_transaction(store, lambda: store.add_hits([], clock.now), start_other)
    other.join(10)
    assert done and [s.watchlist for s in store.subscriptions("7")] == ["officials"]


@pytest.mark.parametrize("rows", [0, 3])
def test_hits_ids_survive_the_upgrade_to_autoincrement(tmp_path, clock, rows):
    """m008 rebuilds the hits table: the ids (votes and digests point at them) stay."""
    from monitor.storage import Store
    from monitor.storage.schema import migrations

    path = tmp_path / "old.db"
    old = Store(path)
    old.add_new_articles("https://f.example/rss", [article(n) for n in range(rows)], clock.now)
    old.add_hits([hit(n) for n in range(rows)], clock.now)
    ids = [h["hit_id"] for h in old.hits_after(0)]
    old.close()
    reopened = Store(path)
    assert [h["hit_id"] for h in reopened.hits_after(0)] == ids
    assert "m008_hit_ids_never_reused" in {m.name for m in migrations._migrations}
    reopened.close()
