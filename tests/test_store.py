"""The store: schema contract, dedupe, outbox uniqueness, fetch bookkeeping."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from conftest import outbox_rows

from monitor.core.errors import StoreError
from monitor.core.models import Article, Hit
from monitor.storage import Store

CONTRACT = {
    "feeds": {
        "url",
        "title",
        "etag",
        "last_modified",
        "last_ok_at",
        "last_error",
        "failures",
        "next_attempt_at",
    },
    "articles": {"id", "feed_url", "url", "title", "summary", "published_at", "seen_at"},
    "article_feeds": {"article_id", "feed_url", "seen_at"},
    "hits": {"id", "article_id", "watchlist", "topic", "term", "score", "snippet", "created_at"},
    "subscriptions": {"chat_id", "watchlist", "topics", "created_at", "paused"},
    "outbox": {
        "id",
        "chat_id",
        "kind",
        "dedupe_key",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "error",
    },
    "digests": {"chat_id", "date", "created_at", "hit_count"},
}


def article(n: int, title: str | None = None, url: str | None = None, feed: str = "f1") -> Article:
    return Article(
        id=f"id{n}",
        feed_url=feed,
        url=url or f"https://e.org/{n}",
        title=title or f"Story number {n} about things",
    )


def test_schema_keeps_the_contract_names(store):
    for table, columns in CONTRACT.items():
        assert columns <= set(store.db[table].columns_dict), table


def test_reopening_applies_no_migration_twice(tmp_path):
    Store(tmp_path / "x.db").close()
    again = Store(tmp_path / "x.db")
    applied = [r["name"] for r in again.db["_sqlite_migrations"].rows]
    assert len(applied) == len(set(applied))


def test_unwritable_database_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as caught:
        Store(blocker / "sub" / "x.db")
    assert "cannot open database" in str(caught.value)


def test_articles_dedupe_by_id_url_and_recent_title(store, clock):
    store.sync_feeds([("f1", None, None), ("f2", None, None)], clock.now)
    first = store.add_new_articles("f1", [article(1), article(2)], clock.now)
    assert [a.id for a in first] == ["id1", "id2"]
    same_id = article(1, url="https://e.org/other")
    same_url = Article(
        id="zz", feed_url="f2", url="https://e.org/2", title="Different words here ok"
    )
    same_title = article(3, title="Story number 1 about things", feed="f2")
    assert store.add_new_articles("f2", [same_id, same_url, same_title], clock.now) == []
    sources = store.db.execute(
        "SELECT count(*) FROM article_feeds WHERE article_id='id1'"
    ).fetchone()
    assert sources[0] == 2
    later = clock.advance(hours=49)  # an old title may come back as a new story
    assert len(store.add_new_articles("f2", [same_title], later)) == 1


def test_short_titles_never_dedupe_by_title(store, clock):
    a = store.add_new_articles("f1", [article(1, title="Breaking news")], clock.now)
    b = store.add_new_articles("f1", [article(2, title="Breaking news")], clock.now)
    assert len(a) == len(b) == 1


def test_hits_are_unique_per_article_watchlist_topic(store, clock):
    store.add_new_articles("f1", [article(1)], clock.now)
    hit = Hit("id1", "w", "t", "term", 100.0, "snip")
    assert store.add_hits([hit, hit], clock.now) == [hit]
    assert store.add_hits([hit], clock.now) == []


def _lease(clock, seconds=120):
    return clock.now + timedelta(seconds=seconds)


def test_outbox_dedupe_retry_and_send(store, clock):
    assert store.enqueue("c1", "alert", "alert:c1:id1", {"x": 1}, clock.now)
    assert not store.enqueue("c1", "alert", "alert:c1:id1", {"x": 2}, clock.now)
    message = store.claim_next("c1", "me", clock.now, _lease(clock))
    assert message is not None and message.payload == {"x": 1}
    assert store.finish_retry(message.id, "me", "boom", clock.now + timedelta(seconds=30))
    assert store.claim_next("c1", "me", clock.now, _lease(clock)) is None  # not due yet
    clock.advance(seconds=31)
    again = store.claim_next("c1", "me", clock.now, _lease(clock))
    assert again is not None and again.attempts == 1
    assert store.finish_sent(again.id, "me", clock.now)
    assert store.claim_next("c1", "me", clock.now + timedelta(days=1), _lease(clock)) is None
    assert outbox_rows(store)[0]["status"] == "sent"


def test_one_sender_per_chat_and_only_the_claimer_finishes_a_row(store, clock):
    for n in range(3):
        store.enqueue("c1", "alert", f"alert:c1:{n}", {"n": n}, clock.now)
    assert store.claim_chat("c1", "a", clock.now, _lease(clock))
    assert not store.claim_chat("c1", "b", clock.now, _lease(clock))  # a holds it
    assert store.claim_next("c1", "b", clock.now, _lease(clock)) is None
    first = store.claim_next("c1", "a", clock.now, _lease(clock))
    assert first is not None and first.payload == {"n": 0}
    assert not store.finish_sent(first.id, "b", clock.now)  # not b's claim
    assert store.finish_sent(first.id, "a", clock.now)
    assert not store.finish_sent(first.id, "a", clock.now)  # guarded on 'sending'
    second = store.claim_next("c1", "a", clock.now, _lease(clock))
    assert second is not None and second.payload == {"n": 1}
    # a dies with `second` in flight: once its claims expire, b takes the chat and
    # sends `second` again (the one message in flight), then the rest
    clock.advance(seconds=121)
    assert store.claim_chat("c1", "b", clock.now, _lease(clock))
    again = store.claim_next("c1", "b", clock.now, _lease(clock))
    assert again is not None and again.id == second.id
    assert not store.finish_sent(second.id, "a", clock.now)  # a's claim is gone
    assert store.finish_sent(again.id, "b", clock.now)
    last = store.claim_next("c1", "b", clock.now, _lease(clock))
    assert last is not None and last.payload == {"n": 2}
    store.release_chat("c1", "b")
    assert store.claim_chat("c1", "a", clock.now, _lease(clock))  # released: free at once


def test_a_429_is_not_an_attempt_and_held_rows_wait_for_the_mute(store, clock):
    store.enqueue("c1", "alert", "alert:c1:1", {}, clock.now)
    message = store.claim_next("c1", "me", clock.now, _lease(clock))
    assert message is not None
    store.finish_retry(message.id, "me", "429", clock.now, counts_as_attempt=False)
    assert outbox_rows(store)[0]["attempts"] == 0
    store.update_chat("c2", clock.now, muted_until=(clock.now + timedelta(hours=1)).isoformat())
    store.enqueue("c2", "alert", "alert:c2:1", {}, clock.now, held=True)
    assert store.release_held(clock.now) == 0 and store.outbox_due_chats(clock.now) == ["c1"]
    clock.advance(hours=1, seconds=1)
    assert store.release_held(clock.now) == 1
    assert store.outbox_due_chats(clock.now) == ["c1", "c2"]


def test_record_fetch_keeps_validators_on_304_and_backs_off_on_failure(store, clock):
    store.sync_feeds([("f1", None, None)], clock.now)
    store.record_fetch("f1", clock.now, ok=True, status=200, etag='"v1"', last_modified="lm")
    store.record_fetch("f1", clock.now, ok=True, status=304)
    feed = store.feeds_due(clock.now)[0]
    assert (feed.etag, feed.last_modified, feed.failures) == ('"v1"', "lm", 0)
    store.record_fetch("f1", clock.now, ok=False, error="HTTP 500", retry_after=timedelta(hours=1))
    assert store.feeds_due(clock.now) == []
    [due] = store.feeds_due(clock.now + timedelta(hours=1))
    assert due.failures == 1 and due.etag == '"v1"'


def test_removed_config_feed_is_no_longer_polled(store, clock):
    store.sync_feeds([("f1", None, None), ("f2", None, None)], clock.now)
    store.sync_feeds([("f2", None, None)], clock.now)
    assert [f.url for f in store.feeds_due(clock.now)] == ["f2"]


def test_a_write_from_another_thread_waits_for_the_open_transaction(store, clock):
    """The bot (event loop) writes while the writer thread has feeds' transaction open:
    its write must not join that transaction, or a rollback would take it too."""
    opened, release = threading.Event(), threading.Event()

    def feeds_then_failure():
        with pytest.raises(RuntimeError), store.transaction():
            store.add_feed("https://rolled.back/rss", None, None, clock.now)
            opened.set()
            release.wait(5)
            raise RuntimeError("this batch fails")

    writer = threading.Thread(target=feeds_then_failure)
    writer.start()
    assert opened.wait(5)
    bot = threading.Thread(target=store.subscribe, args=("42", "dea", [], clock.now))
    bot.start()
    time.sleep(0.3)
    assert bot.is_alive()  # waiting for the feeds' transaction to end
    release.set()
    writer.join(5)
    bot.join(5)
    assert [s.watchlist for s in store.subscriptions("42")] == ["dea"]
    assert store.feed_row("https://rolled.back/rss") is None
