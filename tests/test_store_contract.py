"""The storage contract, on both backends: every test here runs on SQLite and on a real
PostgreSQL server (`any_store`, tests/conftest.py), and asserts the same values and
types on both, so a caller cannot tell them apart."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from test_store import CONTRACT, article

from monitor.core.errors import StoreError
from monitor.core.models import Article, Feed, Hit, OutboxMessage, Subscription
from monitor.storage import Store


def columns(store: Store, table: str) -> set[str]:
    if getattr(store, "shared", False):
        rows = store.pg_rows(  # type: ignore[attr-defined]
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        )
        return {r["column_name"] for r in rows}
    return set(store.db[table].columns_dict)


def lease(clock, seconds: int = 120):
    return clock.now + timedelta(seconds=seconds)


def test_both_backends_keep_the_contract_names(any_store):
    for table, names in CONTRACT.items():
        assert names <= columns(any_store, table), table
    for table in ("votes", "chats", "cycles", "outbox_senders", "vote_targets"):
        assert columns(any_store, table), table


def test_feeds_sync_add_remove_and_the_order_they_are_due_in(any_store, clock):
    store = any_store
    store.sync_feeds([("https://b/", "B", None), ("https://a/", None, "es")], clock.now)
    assert store.add_feed("https://c/", "C", None, clock.now, title="Cee")
    assert not store.add_feed("https://c/", "renamed", None, clock.now)
    store.record_fetch("https://b/", clock.now, ok=True, status=200, duration=3.0)
    due = store.feeds_due(clock.now)
    assert [f.url for f in due] == ["https://b/", "https://a/", "https://c/"]  # slowest first
    assert all(isinstance(f, Feed) for f in due) and due[0].polled and not due[1].polled
    assert store.feed_row("https://c/")["name"] == "C"
    assert store.remove_feed("https://c/") and not store.remove_feed("https://c/")
    store.sync_feeds([], clock.now)  # every config feed goes idle
    assert store.feeds_due(clock.now) == []
    assert [r["url"] for r in store.feed_rows(include_inactive=True)] == [
        "https://a/",
        "https://b/",
        "https://c/",
    ]


def test_record_fetch_validators_and_backoff(any_store, clock):
    store = any_store
    store.sync_feeds([("f1", None, None)], clock.now)
    store.record_fetch("f1", clock.now, ok=True, status=200, etag='"v1"', last_modified="lm")
    store.record_fetch("f1", clock.now, ok=True, status=304)
    feed = store.feeds_due(clock.now)[0]
    assert (feed.etag, feed.last_modified, feed.failures) == ('"v1"', "lm", 0)
    store.record_fetch("f1", clock.now, ok=False, error="HTTP 500", retry_after=timedelta(hours=1))
    assert store.feeds_due(clock.now) == []
    assert store.failing_feeds()[0]["failures"] == 1
    [due] = store.feeds_due(clock.now + timedelta(hours=1))
    assert due.failures == 1 and due.etag == '"v1"'


def test_articles_dedupe_by_id_url_and_recent_title(any_store, clock):
    store = any_store
    first = store.add_new_articles("f1", [article(1), article(2)], clock.now)
    assert [a.id for a in first] == ["id1", "id2"]
    same_url = Article(id="zz", feed_url="f2", url="https://e.org/2", title="Other words here")
    same_title = article(3, title="Story number 1 about things", feed="f2")
    assert store.add_new_articles("f2", [article(1), same_url, same_title], clock.now) == []
    assert store.story_outlets("id1", clock.now) == ["f1", "f2"]
    later = clock.advance(hours=49)
    assert len(store.add_new_articles("f2", [same_title], later)) == 1
    assert [a.id for a in store.articles_since(clock.now - timedelta(days=3))][:2] == ["id1", "id2"]
    assert store.article("id1")["title"] == "Story number 1 about things"


def test_hits_rows_carry_sources_as_a_list_and_votes_as_a_dict(any_store, clock):
    store = any_store
    store.sync_feeds([("f1", "Outlet One", None), ("f2", None, None)], clock.now)
    store.add_new_articles("f1", [article(1)], clock.now)
    store.add_new_articles("f2", [article(1, feed="f2")], clock.now)
    hit = Hit("id1", "w", "t", "term", 91.5, "snip", priority="high")
    assert store.add_hits([hit, hit], clock.now) == [hit]
    [row] = store.hits_after(0)
    assert row["sources"] == ["Outlet One", "f2"] and row["votes"] == {}
    assert isinstance(row["hit_id"], int) and row["score"] == 91.5
    token = store.add_vote_target([row["hit_id"]], "c1", clock.now)
    assert store.record_vote(token, "c1", "relevant", clock.now) == 1
    assert store.record_vote(token, "c2", "relevant", clock.now) == 0  # another chat's button
    assert store.record_vote(token + "x", "c1", "relevant", clock.now) == 0  # forged
    assert store.hits_between(clock.now, clock.now + timedelta(seconds=1))[0]["votes"] == {
        "c1": "relevant"
    }
    assert store.article_hits("id1", "high")[0]["hit_id"] == row["hit_id"]
    assert store.last_hit_id() == row["hit_id"]
    assert store.hit_ids("id1", [("w", "t"), ("w", "nope")]) == [row["hit_id"]]
    stats = store.vote_stats(clock.now - timedelta(days=1))
    assert stats == [
        {"watchlist": "w", "topic": "t", "term": "term", "hits": 1, "voted": 1, "relevant": 1,
         "not_relevant": 0}
    ]  # fmt: skip
    assert store.last_change_at() == clock.now


def test_chats_subscriptions_mutes_and_recent_hits(any_store, clock):
    store = any_store
    store.subscribe("c1", "w", ["t", "t"], clock.now)
    store.subscribe("c2", "w", [], clock.now)
    store.subscribe("c2", "other", ["x"], clock.now)
    assert store.subscriptions("c1") == [Subscription("c1", "w", ("t",))]
    assert store.subscribers_of("w") == ["c1", "c2"] and store.digest_chats() == ["c1", "c2"]
    store.add_new_articles("f1", [article(1), article(2)], clock.now)
    store.add_hits(
        [Hit("id1", "w", "t", "a", 100, "s"), Hit("id2", "w", "u", "b", 100, "s")], clock.now
    )
    assert [r["article_id"] for r in store.recent_hits("c1")] == ["id1"]  # topic t only
    assert [r["article_id"] for r in store.recent_hits("c2")] == ["id2", "id1"]
    store.update_chat("c1", clock.now, muted_until=(clock.now + timedelta(hours=1)).isoformat())
    assert store.muted_chats(clock.now) == {"c1"}
    store.pause_chat("c2", clock.now)
    assert store.subscribers_of("w") == ["c1"] and store.resume_chat("c2") == 2
    store.migrate_chat("c2", "c9", clock.now)
    assert [s.watchlist for s in store.subscriptions("c9")] == ["other", "w"]
    assert store.subscriptions("c2") == [] and store.unsubscribe("c9", None) == 2
    store.record_digest("c1", "2026-11-20", 3, 7, clock.now)
    assert store.chat("c1")["last_digest_hit_id"] == 7


def test_outbox_claims_one_sender_per_chat(any_store, clock):
    store = any_store
    for n in range(3):
        assert store.enqueue("c1", "alert", f"k{n}", {"n": n, "é": "ñ"}, clock.now)
    assert not store.enqueue("c1", "alert", "k0", {"n": 9}, clock.now)
    assert store.outbox_key_exists("k0") and store.outbox_due_chats(clock.now) == ["c1"]
    assert store.claim_chat("c1", "a", clock.now, lease(clock))
    assert not store.claim_chat("c1", "b", clock.now, lease(clock))
    first = store.claim_next("c1", "a", clock.now, lease(clock))
    assert isinstance(first, OutboxMessage) and first.payload == {"n": 0, "é": "ñ"}
    assert not store.finish_sent(first.id, "b", clock.now)
    assert store.finish_sent(first.id, "a", clock.now)
    second = store.claim_next("c1", "a", clock.now, lease(clock))
    assert second is not None and store.outbox_senders() == {"a"}
    clock.advance(seconds=121)  # a died: its lease and its row in flight expire
    again = store.claim_next("c1", "b", clock.now, lease(clock))
    assert again is not None and again.id == second.id
    assert store.finish_retry(again.id, "b", "429", clock.now, counts_as_attempt=False)
    retry = store.claim_next("c1", "b", clock.now, lease(clock))
    assert retry is not None and retry.attempts == 0
    assert store.finish_failed(retry.id, "b", "refused")
    assert store.fail_queue("c1", "gone") == 1
    store.update_chat("c2", clock.now, muted_until=(clock.now + timedelta(hours=1)).isoformat())
    store.enqueue("c2", "alert", "h1", {}, clock.now, held=True)
    assert store.held_count("c2") == 1 and store.release_held(clock.now) == 0
    assert store.release_held(clock.now + timedelta(hours=2)) == 1
    assert store.expire_sender("b", clock.now) >= 1


def test_search_folds_accents_and_plurals_and_corrects_a_typo(any_store, clock):
    store = any_store
    store.add_new_articles(
        "f",
        [
            Article(
                "a1",
                "f",
                "https://e.org/1",
                "Sheinbaum rechaza operaciones en México",
                "Los cárteles y la DEA",
                lang="es",
            ),
            Article(
                "a2",
                "f",
                "https://e.org/2",
                "Cartels and the Merida Initiative",
                "Drug policy news",
                lang="en",
            ),
        ],  # fmt: skip
        clock.now,
    )
    assert store.search_articles("cartel") == []  # not indexed yet
    assert store.index_new_articles() == 2 and store.index_new_articles() == 0
    assert {r["id"] for r in store.search_articles("cartel")} == {"a1", "a2"}
    assert [r["id"] for r in store.search_articles("mexico sheinbaum")] == ["a1"]
    assert [r["id"] for r in store.search_articles("mérida")] == ["a2"]
    [row] = store.search_articles("DEA")
    assert "\x02" in row["snippet"] and "\x03" in row["snippet"]
    assert store.search_articles('DEA AND( "') == []  # syntax is text: "and" is required
    rows, corrected = store.search("sheinbuam")
    assert [r["id"] for r in rows] == ["a1"] and corrected == "sheinbaum"


def test_cycles_status_and_housekeeping(any_store, clock):
    store = any_store
    cycle = store.start_cycle(clock.now)
    assert isinstance(cycle, int) and cycle > 0
    store.finish_cycle(cycle, clock.advance(seconds=5), feeds_ok=2, feeds_failed=0)
    last = store.last_cycle()
    assert last["duration"] == 5.0 and last["feeds_ok"] == 2
    store.sync_feeds([("f1", None, None)], clock.now)
    store.add_new_articles("f1", [article(1), article(2)], clock.now - timedelta(days=100))
    store.add_hits([Hit("id1", "w", "t", "a", 100, "s")], clock.now)
    counts = store.status_counts(clock.now - timedelta(hours=1))
    assert counts["feeds_total"] == 1 and counts["feeds_ok"] == 1 and counts["articles"] == 2
    assert counts["hits_today"] == 1 and counts["outbox_pending"] == 0
    assert store.prune_batch(clock.now - timedelta(days=90)) == 1  # the one with no hit
    assert store.prune_logs(clock.now + timedelta(days=1)) == 1  # the cycle record
    store.optimize()


def test_a_rolled_back_transaction_leaves_nothing_and_nests(any_store, clock):
    store = any_store
    with pytest.raises(RuntimeError), store.transaction():
        store.add_feed("https://rolled.back/", None, None, clock.now)
        raise RuntimeError("boom")
    assert store.feed_row("https://rolled.back/") is None
    with store.transaction():
        store.add_feed("https://kept/", None, None, clock.now)
        with pytest.raises(RuntimeError), store.transaction():  # a savepoint
            store.add_feed("https://inner/", None, None, clock.now)
            raise RuntimeError("inner")
    assert store.feed_row("https://kept/") and store.feed_row("https://inner/") is None


def test_a_write_from_another_thread_waits_for_the_open_transaction(any_store, clock):
    store = any_store
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
    assert bot.is_alive()
    release.set()
    writer.join(5)
    bot.join(5)
    assert [s.watchlist for s in store.subscriptions("42")] == ["dea"]
    assert store.feed_row("https://rolled.back/rss") is None


def test_postgres_errors_are_store_errors_without_the_password(pg_server):
    from monitor.storage.postgres import PgStore

    with pytest.raises(StoreError) as caught:
        PgStore("postgresql://someone:s3cret@/nowhere?host=/nonexistent", busy_timeout=1)
    assert "s3cret" not in str(caught.value) and "cannot open database" in str(caught.value)
