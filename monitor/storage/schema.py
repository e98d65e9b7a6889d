"""The schema, one migration at a time (sqlite-utils' Migrations, applied on open).

Table and column names are a contract (DESIGN.md): operators query them with
the sqlite3 shell and Datasette. Add columns in new migrations; never edit or
rename a landed one.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("news-monitor")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY, title TEXT, name TEXT, lang TEXT,
            source TEXT NOT NULL DEFAULT 'config', active INTEGER NOT NULL DEFAULT 1,
            etag TEXT, last_modified TEXT, last_ok_at TEXT, last_error TEXT,
            last_error_at TEXT, last_status INTEGER, failures INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT, added_at TEXT
        )""")
    db.execute("""
        CREATE TABLE articles (
            id TEXT PRIMARY KEY, feed_url TEXT NOT NULL, url TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '', content TEXT NOT NULL DEFAULT '',
            published_at TEXT, seen_at TEXT NOT NULL, title_key TEXT, source TEXT, lang TEXT
        )""")
    db.execute("CREATE INDEX articles_title_key ON articles (title_key, seen_at)")
    db.execute("CREATE INDEX articles_seen_at ON articles (seen_at)")
    db.execute("""
        CREATE TABLE article_feeds (
            article_id TEXT NOT NULL, feed_url TEXT NOT NULL, seen_at TEXT NOT NULL,
            PRIMARY KEY (article_id, feed_url)
        )""")
    db.execute("""
        CREATE TABLE hits (
            id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, watchlist TEXT NOT NULL,
            topic TEXT NOT NULL, term TEXT NOT NULL, score REAL NOT NULL, snippet TEXT NOT NULL,
            field TEXT, priority TEXT NOT NULL DEFAULT 'normal', created_at TEXT NOT NULL,
            UNIQUE (article_id, watchlist, topic)
        )""")
    db.execute("CREATE INDEX hits_created_at ON hits (created_at)")
    db.execute("""
        CREATE TABLE subscriptions (
            chat_id TEXT NOT NULL, watchlist TEXT NOT NULL, topics TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL, paused INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (chat_id, watchlist)
        )""")
    db.execute("""
        CREATE TABLE chats (
            chat_id TEXT PRIMARY KEY, timezone TEXT, digest_time TEXT, muted_until TEXT,
            last_digest_at TEXT, last_digest_hit_id INTEGER, created_at TEXT NOT NULL,
            blocked_at TEXT
        )""")
    db.execute("""
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY, chat_id TEXT NOT NULL, kind TEXT NOT NULL,
            dedupe_key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT, sent_at TEXT, error TEXT, created_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX outbox_pending ON outbox (status, next_attempt_at)")
    db.execute("""
        CREATE TABLE digests (
            chat_id TEXT NOT NULL, date TEXT NOT NULL, created_at TEXT NOT NULL,
            hit_count INTEGER NOT NULL, since TEXT, until TEXT, last_hit_id INTEGER,
            PRIMARY KEY (chat_id, date)
        )""")
    db.execute("""
        CREATE TABLE cycles (
            id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
            duration REAL, feeds_ok INTEGER, feeds_failed INTEGER, articles_new INTEGER,
            hits_new INTEGER, error TEXT
        )""")


@migrations()
def m002_article_search(db: sqlite_utils.Database) -> None:
    """Full-text index for the bot's /search: titles and summaries, accents folded.

    External content (no second copy of the text), kept in step by triggers.
    The index follows `articles.rowid`, which nothing renumbers: housekeeping never
    VACUUMs (a VACUUM would need `INSERT INTO articles_fts(articles_fts) VALUES('rebuild')`).
    """
    db.table("articles").enable_fts(
        ["title", "summary"], create_triggers=True, tokenize="unicode61 remove_diacritics 2"
    )


@migrations()
def m003_votes(db: sqlite_utils.Database) -> None:
    """Relevance feedback: one vote per hit and chat (a changed mind updates it), and the
    short tokens that inline buttons carry (Telegram allows 64 bytes of callback data;
    a digest entry may stand for many hits). Also the index surge detection reads
    article_feeds by: without it each feed's check scans the table (3 s a cycle for
    50 feeds at 300,000 rows)."""
    db.execute("""
        CREATE TABLE votes (
            hit_id INTEGER NOT NULL, chat_id TEXT NOT NULL,
            vote TEXT NOT NULL CHECK (vote IN ('relevant', 'not_relevant')),
            voted_at TEXT NOT NULL, PRIMARY KEY (hit_id, chat_id)
        )""")
    db.execute("""
        CREATE TABLE vote_targets (
            id INTEGER PRIMARY KEY, hit_ids TEXT NOT NULL, created_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX article_feeds_by_feed ON article_feeds (feed_url, seen_at)")


@migrations()
def m004_feed_scale(db: sqlite_utils.Database) -> None:
    """Feed warnings (e.g. cut off at max_bytes), the hash of the last body stored (feeds
    without validators), how long the last poll took (slow feeds start first). Article
    counts per feed use m003's article_feeds (feed_url, seen_at) index."""
    db.execute("ALTER TABLE feeds ADD COLUMN last_warning TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN content_hash TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN last_duration REAL")


@migrations()
def m005_search_in_batches(db: sqlite_utils.Database) -> None:
    """Index new articles for /search once a cycle instead of by a trigger at every insert.

    With m002's insert trigger FTS5 wrote a new index segment at each feed's commit: 4.0 s
    of CPU to store 22,500 articles in 470 transactions, against 1.3 s without it plus
    0.5 s to index them all in one INSERT ... SELECT (Store.index_new_articles, at the
    end of a cycle's storing). `search_index.indexed_rowid` marks how far the index
    goes: the index holds exactly the articles whose rowid is at or below it.
    The delete and update triggers touch indexed rows only (an FTS5 'delete' of a row
    that was never indexed corrupts the index). An insert at or below the mark (SQLite
    reuses rowids once the highest rows are deleted) is indexed at once.
    """
    for name in ("articles_ai", "articles_ad", "articles_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("""
        CREATE TABLE search_index (
            id INTEGER PRIMARY KEY CHECK (id = 1), indexed_rowid INTEGER NOT NULL
        )""")
    db.execute(
        "INSERT INTO search_index (id, indexed_rowid)"
        " SELECT 1, coalesce(max(rowid), 0) FROM articles"
    )
    indexed = "(SELECT indexed_rowid FROM search_index WHERE id = 1)"
    columns = "INTO articles_fts (rowid, title, summary)"
    delete = "INTO articles_fts (articles_fts, rowid, title, summary) SELECT 'delete',"
    db.execute(f"""
        CREATE TRIGGER articles_ai AFTER INSERT ON articles WHEN new.rowid <= {indexed} BEGIN
          INSERT {columns} VALUES (new.rowid, new.title, new.summary);
        END""")
    db.execute(f"""
        CREATE TRIGGER articles_ad AFTER DELETE ON articles WHEN old.rowid <= {indexed} BEGIN
          INSERT {delete} old.rowid, old.title, old.summary;
        END""")
    db.execute(f"""
        CREATE TRIGGER articles_au AFTER UPDATE ON articles BEGIN
          INSERT {delete} old.rowid, old.title, old.summary WHERE old.rowid <= {indexed};
          INSERT {columns} SELECT new.rowid, new.title, new.summary WHERE new.rowid <= {indexed};
        END""")


@migrations()
def m006_no_insert_trigger(db: sqlite_utils.Database) -> None:
    """No trigger on insert at all: a new article waits for `index_new_articles`.

    m005's insert trigger looked up the mark for every new row, in case SQLite reused
    a rowid at or below it (it numbers a new row one above the highest, so that
    happens once the highest rows are deleted). Storing 14,000 articles cost a fifth
    more CPU with that lookup. Instead, deleting the highest rows lowers the mark to
    the highest row left, so a new row is always above the mark. (Nothing inserts
    articles with an explicit rowid.) The mark only ever drops to rows that are
    indexed: while unindexed rows exist the highest row is above it.
    """
    db.execute("DROP TRIGGER IF EXISTS articles_ai")
    db.execute("DROP TRIGGER IF EXISTS articles_ad")
    highest = "(SELECT coalesce(max(rowid), 0) FROM articles)"
    # rows reused below the mark were indexed by m005's trigger, so this is safe too
    db.execute(
        f"UPDATE search_index SET indexed_rowid = min(indexed_rowid, {highest}) WHERE id = 1"
    )
    # one trigger, so the index entry is deleted before the mark can move below the row
    db.execute(f"""
        CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
          INSERT INTO articles_fts (articles_fts, rowid, title, summary)
            SELECT 'delete', old.rowid, old.title, old.summary
            WHERE old.rowid <= (SELECT indexed_rowid FROM search_index WHERE id = 1);
          UPDATE search_index SET indexed_rowid = {highest}
            WHERE id = 1 AND old.rowid >= indexed_rowid AND indexed_rowid > {highest};
        END""")


@migrations()
def m007_vote_tokens_per_chat(db: sqlite_utils.Database) -> None:
    """Vote buttons bound to the chat they were sent to, with an unguessable secret.

    m003's tokens were the row id alone: sequential and valid from any chat, so a chat
    subscribed to nothing could vote on another chat's hits and move `monitor stats`.
    Tokens made before this have no secret, and their buttons report "expired".
    """
    db.execute("ALTER TABLE vote_targets ADD COLUMN chat_id TEXT")
    db.execute("ALTER TABLE vote_targets ADD COLUMN secret TEXT")


@migrations()
def m008_hit_ids_never_reused(db: sqlite_utils.Database) -> None:
    """Hit ids that are never reused (AUTOINCREMENT): a digest window ends at a hit id.

    Without it, a hit stored and rolled back left its id free for the next hit, which
    a digest that had already moved past that id would skip. The table is rebuilt
    (SQLite cannot add AUTOINCREMENT in place); the ids stay as they were, so votes
    and `digests.last_hit_id` still point at the same hits.
    """
    db.execute("""
        CREATE TABLE hits_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL,
            watchlist TEXT NOT NULL, topic TEXT NOT NULL, term TEXT NOT NULL,
            score REAL NOT NULL, snippet TEXT NOT NULL, field TEXT,
            priority TEXT NOT NULL DEFAULT 'normal', created_at TEXT NOT NULL,
            UNIQUE (article_id, watchlist, topic)
        )""")
    db.execute("""
        INSERT INTO hits_new (id, article_id, watchlist, topic, term, score, snippet, field,
                              priority, created_at)
        SELECT id, article_id, watchlist, topic, term, score, snippet, field, priority,
               created_at FROM hits""")
    db.execute("DROP TABLE hits")
    db.execute("ALTER TABLE hits_new RENAME TO hits")
    db.execute("CREATE INDEX hits_created_at ON hits (created_at)")


@migrations()
def m009_search_words(db: sqlite_utils.Database) -> None:
    """The words /search has indexed (FTS5's own vocabulary table), so a word the index
    does not hold, a typo, can be replaced by the closest one it does."""
    db.execute("CREATE VIRTUAL TABLE articles_fts_words USING fts5vocab(articles_fts, 'row')")


@migrations()
def m010_claimed_outbox(db: sqlite_utils.Database) -> None:
    """One sender per chat at a time, by lease, across processes; rows in flight carry
    their sender's claim; alerts for a muted chat wait as 'held'. The queue index serves
    each chat's head-of-queue lookup, so a drain's cost does not grow with other chats'
    backlogs."""
    db.execute("ALTER TABLE outbox ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN claimed_until TEXT")
    db.execute("""
        CREATE TABLE outbox_senders (
            chat_id TEXT PRIMARY KEY, claimed_by TEXT NOT NULL, claimed_until TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX outbox_queue ON outbox (chat_id, status, id)")
    db.execute("UPDATE outbox SET next_attempt_at = created_at WHERE next_attempt_at IS NULL")
