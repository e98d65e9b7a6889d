"""`monitor migrate --to postgresql://...`: an existing SQLite database copied into an
empty PostgreSQL one, read back through PgStore (a real server: tests/fakes/pg_server.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import run_monitor
from test_store import article

from monitor.core.models import Article, Hit
from monitor.storage import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def prime(path: Path) -> dict:
    """A SQLite database with a bit of everything; what the copy must carry over."""
    store = Store(path)
    store.sync_feeds([("https://a/", "A", "es"), ("https://b/", None, None)], NOW)
    store.record_fetch("https://a/", NOW, ok=True, status=200, duration=1.5)
    cartel = Article(
        id="c1",
        feed_url="https://a/",
        url="https://e.org/cartel",
        title="Cárteles y la DEA en México",
        summary="Sheinbaum habla de cooperación",
    )
    store.add_new_articles("https://a/", [cartel, article(1, feed="https://a/")], NOW)
    store.add_new_articles("https://b/", [article(2, feed="https://b/")], NOW)
    hits = store.add_hits(
        [
            Hit("c1", "wl", "dea", "DEA", 1.0, "la DEA", priority="high"),
            Hit("id1", "wl", "other", "things", 0.9, "things"),
            Hit("id2", "wl", "other", "things", 0.8, "things"),
        ],
        NOW,
    )
    store.db.execute("DELETE FROM hits WHERE id = (SELECT max(id) FROM hits)")  # never reused
    store.subscribe("42", "wl", ["dea"], NOW)
    store.subscribe("43", "wl", [], NOW)
    store.update_chat("42", NOW, timezone="Europe/Madrid")
    token = store.add_vote_target([1, 2], "42", NOW)
    assert store.record_vote(token, "42", "relevant", NOW) == 2
    store.enqueue("42", "alert", "alert:42:c1", {"text": "DEA"}, NOW)
    store.enqueue("43", "digest", "digest:43:2026-03-02", {"text": "digest"}, NOW)
    store.record_digest("43", "2026-03-02", 2, 2, NOW)
    cycle = store.start_cycle(NOW)
    store.finish_cycle(cycle, NOW + timedelta(seconds=5), feeds_ok=2, articles_new=3)
    store.index_new_articles()
    expected = {
        "hits": store.hits_between(NOW - timedelta(days=1), NOW + timedelta(days=1)),
        "subscriptions": store.subscriptions(),
        "votes": store.votes(),
        "feeds": store.feed_rows(include_inactive=True),
        "chat": store.chat("42"),
        "outbox": store.db.execute("SELECT id, chat_id, kind FROM outbox ORDER BY id").fetchall(),
        "top_hit": len(hits),
        "token": token,
    }
    store.close()
    return expected


@pytest.fixture
def primed(tmp_path: Path) -> tuple[Path, dict]:
    expected = prime(tmp_path / "monitor.db")
    config = tmp_path / "config.toml"
    config.write_text('[storage]\npath = "monitor.db"\n', encoding="utf-8")
    return config, expected


def test_copy_into_an_empty_database_reads_back_the_same_rows(pg_server, primed, tmp_path):
    from monitor.storage.postgres import PgStore

    config, expected = primed
    url = pg_server.create_database("copy")  # empty: not even migrated
    result = run_monitor("migrate", "--to", url, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    counts = {
        line.split()[0]: int(line.split()[1].replace(",", ""))
        for line in result.stdout.splitlines()
        if line.endswith(" rows")
    }
    assert counts["feeds"] == 2 and counts["articles"] == 3 and counts["hits"] == 2
    assert counts["subscriptions"] == 2 and counts["votes"] == 2 and counts["outbox"] == 2
    assert counts["chats"] == 2 and counts["cycles"] == 1 and counts["vote_targets"] == 1
    assert "outbox_senders" not in counts and "search_index" not in counts
    assert "next hits.id: 4" in result.stdout  # above SQLite's counter, not max(id) + 1
    assert "search index: 3 articles" in result.stdout

    pg = PgStore(url)
    try:
        day = (NOW - timedelta(days=1), NOW + timedelta(days=1))
        assert pg.hits_between(*day) == expected["hits"]
        assert pg.subscriptions() == expected["subscriptions"]
        assert pg.votes() == expected["votes"]
        feeds = pg.feed_rows(include_inactive=True)  # and the leases' columns, unset
        assert [{k: f[k] for k in e} for f, e in zip(feeds, expected["feeds"], strict=True)] == (
            expected["feeds"]
        )
        assert {f["claimed_by"] for f in feeds} == {None}  # type: ignore[typeddict-item]
        assert pg.chat("42") == expected["chat"]
        outbox = pg.pg_rows("SELECT id, chat_id, kind FROM outbox ORDER BY id")
        assert [tuple(r.values()) for r in outbox] == expected["outbox"]
        found = [row["id"] for row in pg.search_articles("cartel")]
        assert found == ["c1"]  # stemmed and unaccented: "Cárteles"
        # a button sent before the move still votes
        assert pg.record_vote(expected["token"], "42", "not_relevant", NOW) == 2
        # new rows get ids above the copied ones
        new = pg.add_new_articles("https://b/", [article(9, feed="https://b/")], NOW)
        assert len(new) == 1
        assert len(pg.add_hits([Hit("id9", "wl", "other", "x", 1.0, "x")], NOW)) == 1
        # hit 3 was deleted in SQLite: its id is not given out again
        assert pg.pg_value("SELECT id FROM hits WHERE article_id = 'id9'") == 4
        assert expected["top_hit"] == 3
        assert pg.enqueue("43", "alert", "alert:43:id9", {"text": "x"}, NOW)
        assert pg.pg_value("SELECT max(id) FROM outbox") == 3
        assert pg.start_cycle(NOW) == 2
        assert pg.add_vote_target([4], "43", NOW).startswith("2-")
        assert pg.index_new_articles() == 1  # the index goes on from the copied ones
        assert {r["id"] for r in pg.search_articles("story")} == {"id1", "id2", "id9"}
    finally:
        pg.close()


def test_a_database_with_rows_is_refused_and_left_as_it_was(pg_server, primed, tmp_path):
    config, _ = primed
    url = pg_server.create_database("full")
    first = run_monitor("migrate", "--to", url, "--config", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = run_monitor("migrate", "--to", url, "--config", str(config), cwd=tmp_path)
    assert again.returncode == 2
    assert "is not empty" in again.stderr and "nothing was copied" in again.stderr
    assert "Traceback" not in again.stderr

    from monitor.storage.postgres import PgStore

    pg = PgStore(url)
    try:
        assert pg.pg_value("SELECT count(*) FROM hits") == 2  # not doubled, not emptied
        assert pg.pg_value("SELECT count(*) FROM articles") == 3
    finally:
        pg.close()


def test_a_column_postgresql_lacks_is_refused_before_anything_is_copied(
    pg_server, primed, tmp_path
):
    from monitor.storage.postgres import PgStore

    config, _ = primed
    extra = Store(tmp_path / "monitor.db")
    extra.db.execute("ALTER TABLE votes ADD COLUMN note TEXT")
    extra.close()
    url = pg_server.create_database("fail")
    result = run_monitor("migrate", "--to", url, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "votes" in result.stderr and "note" in result.stderr
    pg = PgStore(url)
    try:
        assert pg.pg_value("SELECT count(*) FROM feeds") == 0
    finally:
        pg.close()


def test_a_copy_that_fails_halfway_leaves_nothing_behind(pg_server, primed, tmp_path):
    """One transaction: feeds are copied, then an article PostgreSQL cannot store (a NUL
    character, which SQLite text may hold) fails the copy; the target stays empty."""
    from monitor.storage.postgres import PgStore

    config, _ = primed
    bad = Store(tmp_path / "monitor.db")
    bad.db.execute("UPDATE articles SET summary = 'a' || char(0) || 'b' WHERE id = 'id2'")
    bad.close()
    url = pg_server.create_database("half")
    result = run_monitor("migrate", "--to", url, "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "monitor: error:" in result.stderr and "Traceback" not in result.stderr
    pg = PgStore(url)
    try:
        assert pg.pg_value("SELECT count(*) FROM feeds") == 0
        assert pg.pg_value("SELECT count(*) FROM articles") == 0
    finally:
        pg.close()
    fixed = Store(tmp_path / "monitor.db")
    fixed.db.execute("UPDATE articles SET summary = 'ab' WHERE id = 'id2'")
    fixed.close()
    retry = run_monitor("migrate", "--to", url, "--config", str(config), cwd=tmp_path)
    assert retry.returncode == 0, retry.stderr  # the failed try left it empty
