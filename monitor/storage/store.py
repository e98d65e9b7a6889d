"""The only module that knows the SQLite schema (sqlite-utils, WAL).

Table and column names are a contract (DESIGN.md): operators query them with
the sqlite3 shell and Datasette. Add columns in new migrations; never edit or
rename a landed one.

Writes that belong together happen in one transaction (`Store.transaction`):
a feed's new articles, their hits, their outbox rows and the feed's new
ETag/Last-Modified commit together or not at all, so a crash mid-cycle loses
nothing and duplicates nothing.
"""

from __future__ import annotations

import difflib
import json
import re
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from monitor.core.errors import DatabaseBusy, StoreError
from monitor.core.models import Article, Feed, Hit, OutboxMessage, Subscription
from monitor.core.timeutil import iso, parse_iso
from monitor.text.textnorm import fold, token_key
from monitor.text.titles import SeenArticles, TitleIndex, title_key

TITLE_DEDUPE_HOURS = 48
TITLE_DEDUPE_MIN_WORDS = 4
SQL_BATCH = 400  # ids per IN (...) list, well under SQLite's variable limit

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
    db["articles"].enable_fts(
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


SNIPPET_OPEN, SNIPPET_CLOSE = "\x02", "\x03"  # around matched words in search snippets
FTS_MAX_WORDS = 8
PREFIX_FROM = 4  # letters: from here a searched word also finds its longer forms


def search_words(query: str) -> list[str]:
    """The query's words as the index holds them: folded like the matcher (accents,
    case, possessives, simple plurals: "cárteles" -> "cartel"), at most FTS_MAX_WORDS;
    a trailing `*` is kept."""
    words = []
    for found in re.finditer(r"(\w+)(\*?)", query):
        key = token_key(fold(found.group(1)))
        if key:
            words.append(key + found.group(2))
    return words[:FTS_MAX_WORDS]


def fts_query(words: str | list[str]) -> str | None:
    """A user's words -> a safe FTS5 query: each word quoted (so `AND`, `(` and quotes are
    plain text), all of them required. A word of four letters or more is a prefix, so the
    singular the query was folded to finds its plurals ("cartel" finds "cartels",
    "carteles"); a trailing `*` asks for a prefix of a short word too (`DE*`)."""
    keys = search_words(words) if isinstance(words, str) else words
    terms = []
    for key in keys:
        bare = key.rstrip("*")
        prefix = key.endswith("*") or len(bare) >= PREFIX_FROM
        terms.append(f'"{bare}"' + ("*" if prefix else ""))
    return " ".join(terms) or None


def store_error(path: str, exc: sqlite3.Error) -> StoreError:
    """A sqlite3 error as the one line (and hint) an operator can act on."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        hint = "another process holds a write lock on it; try again in a moment"
        return DatabaseBusy(f"database busy ({path}): {text}", hint=hint)
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError):
        hint = "the file may be damaged or not this program's database: restore a backup"
    else:
        hint = ""
    return StoreError(f"database error ({path}): {text}", hint=hint)


class _Database(sqlite_utils.Database):
    """sqlite-utils' Database whose statements raise `StoreError`, never sqlite3's own
    errors: "database is locked" is then one line from the CLI, not a traceback."""

    conn_path = ""  # for the messages

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise store_error(self.conn_path, exc) from exc


class Store:
    """The database, opened and migrated. Methods are named for their intent.

    One connection per thread, as lemon24/reader does: the writer thread's open
    transaction is invisible to the bot's and the scheduler's threads, which read
    only what is committed (WAL readers never wait for the writer), so nothing
    sent or digested can be rolled back afterwards. A connection lives as long as
    its thread; `close` closes those still open.
    """

    def __init__(self, path: Path | str, busy_timeout: float = 30) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Database] = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        # ":memory:" would be one database per connection: name one shared in-memory one
        self._target = (
            f"file:news-monitor-{id(self)}?mode=memory&cache=shared"
            if self.path == ":memory:"
            else self.path
        )
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._prepare()
            self._titles: TitleIndex | None = None  # recent titles, loaded on first use
            self._titles_rowid = 0
        except (sqlite3.Error, OSError, StoreError) as exc:
            self.close()
            raise StoreError(
                f"cannot open database {self.path}: {getattr(exc, '__cause__', None) or exc}",
                hint="check [storage] path and that its folder is writable",
            ) from exc

    @property
    def db(self) -> _Database:
        """This thread's connection, opened on first use."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def _connect(self) -> _Database:
        conn = sqlite3.connect(
            self._target,
            timeout=self.busy_timeout,
            check_same_thread=False,  # only so that `close` may close it from another thread
            uri=self.path == ":memory:",
        )
        db = _Database(conn)
        db.conn_path = self.path
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._connections_lock:
            self._connections.add(db)
        return db

    def _prepare(self, attempts: int = 20) -> None:
        """WAL mode and migrations. Two processes opening a new database at once (the
        worker and `monitor status`) can see SQLITE_BUSY on the journal-mode switch,
        which the busy timeout does not cover, so that step is retried briefly."""
        for attempt in range(attempts):
            try:
                if self.path != ":memory:":
                    self.db.execute("PRAGMA journal_mode=WAL")
                # checkpoint every 64 MB of WAL, not 4 MB: big cycles write in bursts
                self.db.execute("PRAGMA wal_autocheckpoint=16384")
                migrations.apply(self.db)
                return
            except StoreError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))

    def close(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for db in connections:
            db.close()
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all; nested calls are savepoints.

        The outermost one begins IMMEDIATE: it takes SQLite's write lock at once (waiting
        up to the busy timeout for another writer), so a transaction that read first can
        never fail to upgrade to a write halfway through.
        """
        db = self.db
        try:
            if db.conn.in_transaction:
                with db.atomic():  # a savepoint
                    yield
                return
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                db.conn.execute("COMMIT")
            except BaseException:
                db.conn.rollback()  # a no-op when COMMIT itself ended the transaction
                raise
        except BaseException as exc:
            self._titles = None  # it may hold titles that were rolled back: reload
            if isinstance(exc, sqlite3.Error):
                raise store_error(self.path, exc) from exc
            raise

    def _rows(self, sql: str, params: Sequence[Any] | dict = ()) -> list[dict]:
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    # -- feeds -------------------------------------------------------------------
    def sync_feeds(
        self, feeds: Iterable[tuple[str, str | None, str | None]], now: datetime
    ) -> None:
        """Make the config's feeds (url, name, lang) active; config feeds no longer listed go idle.

        Nothing is written when the table already says so: `monitor feeds list` and the
        other commands that sync first then only read, and never wait for a worker that
        holds the write lock."""
        wanted = {url: (name, lang) for url, name, lang in feeds}
        stored = {
            r["url"]: r
            for r in self._rows("SELECT url, name, lang, active FROM feeds WHERE source = 'config'")
        }
        in_sync = all(
            (row := stored.get(url)) is not None
            and row["active"]
            and (row["name"], row["lang"]) == v
            for url, v in wanted.items()
        ) and not any(r["active"] and url not in wanted for url, r in stored.items())
        if in_sync:
            return
        urls = []
        with self.transaction():
            for url, (name, lang) in wanted.items():
                urls.append(url)
                self.db.execute(
                    """INSERT INTO feeds (url, name, lang, source, active, added_at)
                       VALUES (?, ?, ?, 'config', 1, ?)
                       ON CONFLICT (url) DO UPDATE SET name = excluded.name,
                         lang = excluded.lang, active = 1""",
                    (url, name, lang, iso(now)),
                )
            marks = ",".join("?" * len(urls))
            self.db.execute(
                f"UPDATE feeds SET active = 0 WHERE source = 'config' AND url NOT IN ({marks})",
                urls,
            )

    def add_feed(
        self, url: str, name: str | None, lang: str | None, now: datetime, title: str | None = None
    ) -> bool:
        """Add a feed at run time; False when it was already there."""
        with self.transaction():
            existed = self._value("SELECT active FROM feeds WHERE url = ?", (url,))
            self.db.execute(
                """INSERT INTO feeds (url, name, lang, source, active, added_at, title)
                   VALUES (?, ?, ?, 'added', 1, ?, ?)
                   ON CONFLICT (url) DO UPDATE SET active = 1,
                     source = CASE WHEN active = 0 THEN 'added' ELSE source END,
                     -- a feed being polled keeps its name: an import does not rename it
                     name = CASE WHEN active = 0 THEN coalesce(excluded.name, name) ELSE name END,
                     lang = CASE WHEN active = 0 THEN coalesce(excluded.lang, lang) ELSE lang END,
                     title = coalesce(excluded.title, title)""",
                (url, name, lang, iso(now), title),
            )
        return not existed

    def remove_feed(self, url: str) -> bool:
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE feeds SET active = 0 WHERE url = ? AND active = 1", (url,)
            )
        return cursor.rowcount > 0

    def feeds_due(self, now: datetime) -> list[Feed]:
        """Active feeds whose next attempt has come, the slowest last time first: a server
        that takes its time (or its timeout) overlaps the rest of the cycle, not its end."""
        rows = self._rows(
            """SELECT url, name, lang, etag, last_modified, failures, content_hash,
                 last_ok_at IS NOT NULL AS polled FROM feeds
               WHERE active = 1 AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
               ORDER BY coalesce(last_duration, 0) DESC, url""",
            (iso(now),),
        )
        return [Feed(**{**row, "polled": bool(row["polled"])}) for row in rows]

    def feed_rows(self, include_inactive: bool = False) -> list[dict]:
        """Every feed with its status and article count, for `monitor feeds`."""
        where = "" if include_inactive else "WHERE f.active = 1"
        return self._rows(
            f"""SELECT f.*, coalesce(n.articles, 0) AS articles FROM feeds f
                LEFT JOIN (SELECT feed_url, count(*) AS articles FROM article_feeds
                           GROUP BY feed_url) n ON n.feed_url = f.url
                {where} ORDER BY f.url"""
        )

    def feed_row(self, url: str) -> dict | None:
        """One feed, active or not, with its article count; None when unknown."""
        rows = self._rows(
            """SELECT f.*, (SELECT count(*) FROM article_feeds af WHERE af.feed_url = f.url)
                 AS articles FROM feeds f WHERE f.url = ?""",
            (url,),
        )
        return rows[0] if rows else None

    def add_feeds(
        self, feeds: Iterable[tuple[str, str | None, str | None]], now: datetime
    ) -> list[str]:
        """Add many feeds (an OPML import) in one transaction; returns the URLs that were new."""
        added = []
        with self.transaction():
            for url, name, lang in feeds:
                if self.add_feed(url, name, lang, now):
                    added.append(url)
        return added

    def record_fetch(
        self,
        feed_url: str,
        now: datetime,
        *,
        ok: bool,
        status: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
        title: str | None = None,
        retry_after: timedelta | None = None,
        warning: str | None = None,
        content_hash: str | None = None,
        duration: float | None = None,
    ) -> None:
        """Record one poll. On success the validators advance; on failure the feed backs off.

        A success clears the error and sets `last_warning` (a feed cut off at
        max_bytes, malformed but readable, ...) to this poll's warning or NULL.
        """
        if ok:
            self.db.execute(
                """UPDATE feeds SET last_ok_at = ?, last_status = ?, failures = 0,
                     last_error = NULL, next_attempt_at = NULL, last_warning = ?,
                     etag = CASE WHEN ? THEN ? ELSE etag END,
                     last_modified = CASE WHEN ? THEN ? ELSE last_modified END,
                     title = coalesce(?, title), content_hash = coalesce(?, content_hash),
                     last_duration = coalesce(?, last_duration)
                   WHERE url = ?""",
                (
                    iso(now),
                    status,
                    warning,
                    status != 304,
                    etag,
                    status != 304,
                    last_modified,
                    title,
                    content_hash,
                    duration,
                    feed_url,
                ),
            )
        else:
            next_at = iso(now + retry_after) if retry_after else None
            self.db.execute(
                """UPDATE feeds SET last_error = ?, last_error_at = ?, last_status = ?,
                     failures = failures + 1, next_attempt_at = ?,
                     last_duration = coalesce(?, last_duration) WHERE url = ?""",
                (error, iso(now), status, next_at, duration, feed_url),
            )
        if not self.db.conn.in_transaction:
            self.db.conn.commit()

    # -- articles ------------------------------------------------------------------
    def add_new_articles(
        self,
        feed_url: str,
        articles: Sequence[Article],
        now: datetime,
        title_keys: Sequence[str | None] = (),
    ) -> list[Article]:
        """Store the articles never seen before and return them; note every feed that carried one.

        Seen before means the same id, the same canonical URL, or the same or
        nearly the same title (titles.py) first seen in the last 48 hours: wire
        stories syndicated under different URLs and slightly different titles.
        Ids and URLs are looked up in two queries per batch, titles in memory.
        `title_keys` are the folded titles when a parse worker made them already.
        """
        seen_at = iso(now)
        keys = list(title_keys) if title_keys else [title_key(a.title) for a in articles]
        seen = self._seen_articles(articles, now)
        new: list[Article] = []
        rows: list[dict] = []
        links: list[tuple[str, str, str]] = []
        for article, key in zip(articles, keys, strict=True):
            existing = seen.find(article.id, article.url, key)
            if existing is None:
                rows.append(_article_row(article, key, now))
                new.append(article)
                seen.add(article.id, article.url, key, seen_at)
                existing = article.id
            links.append((existing, feed_url, seen_at))
        # its own (nested) transaction: committed here when the caller has none open
        with self.transaction():
            if rows:
                self.db.conn.executemany(_INSERT_ARTICLE, rows)
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO article_feeds (article_id, feed_url, seen_at)"
                " VALUES (?, ?, ?)",
                links,
            )
        return new

    def _seen_articles(self, articles: Sequence[Article], now: datetime) -> SeenArticles:
        """Stored articles sharing an id or a URL with this batch, and the recent titles."""
        seen = SeenArticles(self._recent_titles(now))
        for chunk in _chunks([a.id for a in articles]):
            marks = ",".join("?" * len(chunk))
            for (article_id,) in self.db.execute(
                f"SELECT id FROM articles WHERE id IN ({marks})", chunk
            ):
                seen.ids.add(article_id)
        for chunk in _chunks([a.url for a in articles]):
            marks = ",".join("?" * len(chunk))
            for article_id, url in self.db.execute(
                f"SELECT id, url FROM articles WHERE url IN ({marks})", chunk
            ):
                seen.urls[url] = article_id
        return seen

    def _recent_titles(self, now: datetime) -> TitleIndex:
        """The titles of the last 48 hours, topped up with rows stored since the last call
        (by this process or another one) and with the old ones dropped."""
        since = iso(now - timedelta(hours=TITLE_DEDUPE_HOURS))
        if self._titles is None:
            self._titles, self._titles_rowid = TitleIndex(), 0
        for rowid, article_id, key, seen_at in self.db.execute(
            """SELECT rowid, id, title_key, seen_at FROM articles
               WHERE rowid > ? AND seen_at >= ? AND title_key IS NOT NULL ORDER BY rowid""",
            (self._titles_rowid, since),
        ):
            self._titles.add(article_id, key, seen_at)
            self._titles_rowid = rowid
        self._titles.prune(since)
        return self._titles

    def prune_title_index(self, now: datetime) -> None:
        """Titles older than the 48-hour window are never compared again."""
        if self._titles is not None:
            self._titles.prune(iso(now - timedelta(hours=TITLE_DEDUPE_HOURS)))

    def article(self, article_id: str) -> dict | None:
        rows = self._rows("SELECT * FROM articles WHERE id = ?", (article_id,))
        return rows[0] if rows else None

    def articles_since(self, since: datetime) -> list[Article]:
        rows = self._rows(
            "SELECT * FROM articles WHERE seen_at >= ? ORDER BY seen_at, id", (iso(since),)
        )
        return [_article_from_row(r) for r in rows]

    # -- hits and the outbox -----------------------------------------------------------
    def add_hits(self, hits: Sequence[Hit], now: datetime) -> list[Hit]:
        """Insert hits, ignoring ones already stored; return the newly stored."""
        stored = []
        with self.transaction():  # nested in the caller's when there is one
            for hit in hits:
                if self._insert_hit(hit, now):
                    stored.append(hit)
        return stored

    def _insert_hit(self, hit: Hit, now: datetime) -> bool:
        cursor = self.db.execute(
            """INSERT OR IGNORE INTO hits (article_id, watchlist, topic, term, score, snippet,
                 field, priority, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                hit.article_id,
                hit.watchlist,
                hit.topic,
                hit.term,
                hit.score,
                hit.snippet,
                hit.field,
                hit.priority,
                iso(now),
            ),
        )
        return cursor.rowcount > 0

    def enqueue(
        self,
        chat_id: str,
        kind: str,
        dedupe_key: str,
        payload: dict,
        now: datetime,
        held: bool = False,
    ) -> bool:
        """Queue one message (held: it waits until the chat's mute is over); False when a
        message with this key was queued before."""
        with self.transaction():  # nested in the caller's when there is one
            cursor = self.db.execute(
                """INSERT OR IGNORE INTO outbox (chat_id, kind, dedupe_key, payload, status, attempts,
                     next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)""",
                (
                    chat_id,
                    kind,
                    dedupe_key,
                    json.dumps(payload, ensure_ascii=False),
                    "held" if held else "pending",
                    iso(now),
                    iso(now),
                ),
            )
        return cursor.rowcount > 0

    def outbox_stats(self) -> dict[str, Any]:
        rows = self._rows("SELECT status, count(*) AS n FROM outbox GROUP BY status")
        stats: dict[str, Any] = {r["status"]: r["n"] for r in rows}
        stats["oldest_pending"] = self._value(
            "SELECT min(created_at) FROM outbox WHERE status = 'pending'"
        )
        return stats

    def outbox_rows(self, kind: str | None = None) -> list[dict]:
        sql = "SELECT * FROM outbox" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
        return self._rows(sql, (kind,) if kind else ())

    # -- subscriptions -------------------------------------------------------------------
    def subscribe(self, chat_id: str, watchlist: str, topics: Sequence[str], now: datetime) -> None:
        with self.transaction():
            self.db.execute(
                """INSERT INTO subscriptions (chat_id, watchlist, topics, created_at, paused)
                   VALUES (?, ?, ?, ?, 0) ON CONFLICT (chat_id, watchlist)
                   DO UPDATE SET topics = excluded.topics, paused = 0""",
                (chat_id, watchlist, json.dumps(sorted(set(topics))), iso(now)),
            )
            self.db.execute(
                "INSERT OR IGNORE INTO chats (chat_id, created_at) VALUES (?, ?)",
                (chat_id, iso(now)),
            )
            self.db.execute("UPDATE chats SET blocked_at = NULL WHERE chat_id = ?", (chat_id,))

    def unsubscribe(self, chat_id: str, watchlist: str | None) -> int:
        with self.transaction():
            if watchlist is None:
                cursor = self.db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,))
            else:
                cursor = self.db.execute(
                    "DELETE FROM subscriptions WHERE chat_id = ? AND watchlist = ?",
                    (chat_id, watchlist),
                )
        return cursor.rowcount

    def subscriptions(
        self, chat_id: str | None = None, active_only: bool = False
    ) -> list[Subscription]:
        sql = """SELECT s.chat_id, s.watchlist, s.topics, s.paused, c.timezone, c.digest_time
                 FROM subscriptions s LEFT JOIN chats c ON c.chat_id = s.chat_id WHERE 1"""
        params: list[Any] = []
        if chat_id is not None:
            sql += " AND s.chat_id = ?"
            params.append(chat_id)
        if active_only:
            sql += " AND s.paused = 0"
        rows = self._rows(sql + " ORDER BY s.chat_id, s.watchlist", params)
        return [
            Subscription(
                chat_id=r["chat_id"],
                watchlist=r["watchlist"],
                topics=tuple(json.loads(r["topics"])),
                paused=bool(r["paused"]),
                timezone=r["timezone"],
                digest_time=r["digest_time"],
            )
            for r in rows
        ]

    def pause_chat(self, chat_id: str, now: datetime) -> None:
        """The chat blocked the bot or is gone: stop sending until it subscribes again."""
        with self.transaction():
            self.db.execute("UPDATE subscriptions SET paused = 1 WHERE chat_id = ?", (chat_id,))
            self.db.execute(
                "UPDATE chats SET blocked_at = ? WHERE chat_id = ?", (iso(now), chat_id)
            )

    def chat(self, chat_id: str) -> dict | None:
        rows = self._rows("SELECT * FROM chats WHERE chat_id = ?", (chat_id,))
        return rows[0] if rows else None

    def update_chat(self, chat_id: str, now: datetime, **fields: Any) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO chats (chat_id, created_at) VALUES (?, ?)",
                (chat_id, iso(now)),
            )
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                self.db.execute(
                    f"UPDATE chats SET {sets} WHERE chat_id = ?", (*fields.values(), chat_id)
                )

    def muted_chats(self, now: datetime) -> set[str]:
        rows = self._rows("SELECT chat_id FROM chats WHERE muted_until > ?", (iso(now),))
        return {r["chat_id"] for r in rows}

    # -- the bot: chats, search, recent hits, the sender's bookkeeping -------------------------
    def resume_chat(self, chat_id: str) -> int:
        """The chat is back (/start after a block): its paused subscriptions resume."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE subscriptions SET paused = 0 WHERE chat_id = ? AND paused = 1", (chat_id,)
            )
            self.db.execute("UPDATE chats SET blocked_at = NULL WHERE chat_id = ?", (chat_id,))
        return cursor.rowcount

    def digest_chats(self) -> list[str]:
        """Chats with at least one active subscription: the ones that get a daily digest."""
        rows = self._rows(
            "SELECT DISTINCT chat_id FROM subscriptions WHERE paused = 0 ORDER BY chat_id"
        )
        return [r["chat_id"] for r in rows]

    def migrate_chat(self, old_id: str, new_id: str, now: datetime) -> None:
        """A group became a supergroup (new id): its settings, subscriptions and queue follow."""
        with self.transaction():
            self.db.execute(
                """INSERT OR IGNORE INTO chats (chat_id, timezone, digest_time, muted_until,
                     last_digest_at, last_digest_hit_id, created_at)
                   SELECT ?, timezone, digest_time, muted_until, last_digest_at,
                     last_digest_hit_id, ? FROM chats WHERE chat_id = ?""",
                (new_id, iso(now), old_id),
            )
            self.db.execute(
                "UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
            )
            self.db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (old_id,))
            self.db.execute(
                "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status IN ('pending', 'held')",
                (new_id, old_id),
            )
            self.db.execute(  # the buttons of messages sent before still vote, as the new id
                "UPDATE vote_targets SET chat_id = ? WHERE chat_id = ?", (new_id, old_id)
            )

    # -- the outbox: claimed by one sender per chat at a time ----------------------------
    # A sender takes a lease on a chat (`outbox_senders`), then claims that chat's rows one
    # at a time (status 'sending', claimed_by, claimed_until). Only the claimer may finish a
    # row, and every finish is guarded on the claim, so two processes draining one outbox
    # (`run` and a `poll --once`, or a second `run` by mistake) never send a row twice. A
    # sender that dies leaves its lease and its row in flight; both expire and the next
    # sender takes them, so a SIGKILL repeats at most the message that was in flight.
    def outbox_due_chats(self, now: datetime) -> list[str]:
        """Chats with a message due (or one whose sender's claim expired), oldest first."""
        rows = self._rows(
            """SELECT chat_id FROM outbox
               WHERE (status = 'pending' AND next_attempt_at <= :now)
                  OR (status = 'sending' AND claimed_until <= :now)
               GROUP BY chat_id ORDER BY min(id)""",
            {"now": iso(now)},
        )
        return [r["chat_id"] for r in rows]

    def claim_chat(self, chat_id: str, sender: str, now: datetime, until: datetime) -> bool:
        """Become the chat's only sender until `until`, unless another sender's lease on it
        is still running. Renewing one's own lease always succeeds."""
        with self.transaction():
            cursor = self.db.execute(
                """INSERT INTO outbox_senders (chat_id, claimed_by, claimed_until)
                   VALUES (:chat, :sender, :until)
                   ON CONFLICT (chat_id) DO UPDATE SET claimed_by = excluded.claimed_by,
                     claimed_until = excluded.claimed_until
                   WHERE outbox_senders.claimed_by = excluded.claimed_by
                      OR outbox_senders.claimed_until <= :now""",
                {"chat": chat_id, "sender": sender, "until": iso(until), "now": iso(now)},
            )
        return cursor.rowcount > 0

    def outbox_senders(self) -> set[str]:
        """Senders holding a chat or a message in flight."""
        rows = self._rows(
            """SELECT claimed_by FROM outbox_senders
               UNION SELECT claimed_by FROM outbox WHERE status = 'sending'"""
        )
        return {r["claimed_by"] for r in rows}

    def expire_sender(self, sender: str, now: datetime) -> int:
        """A sender known to be dead: its claims end now instead of when they run out."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE outbox_senders SET claimed_until = ? WHERE claimed_by = ?",
                (iso(now), sender),
            )
            cursor2 = self.db.execute(
                """UPDATE outbox SET claimed_until = ? WHERE status = 'sending'
                   AND claimed_by = ?""",
                (iso(now), sender),
            )
        return cursor.rowcount + cursor2.rowcount

    def release_chat(self, chat_id: str, sender: str) -> None:
        with self.transaction():
            self.db.execute(
                "DELETE FROM outbox_senders WHERE chat_id = ? AND claimed_by = ?",
                (chat_id, sender),
            )

    def claim_next(
        self, chat_id: str, sender: str, now: datetime, until: datetime
    ) -> OutboxMessage | None:
        """Claim the chat's next message, in queue order, while holding the chat's lease
        (renewed to `until`). None when the chat is not ours any more, its queue is empty,
        or its head is waiting for a retry: the messages behind a retry keep their place."""
        with self.transaction():
            if not self.claim_chat(chat_id, sender, now, until):
                return None
            rows = self._rows(
                """SELECT id, chat_id, kind, dedupe_key, payload, attempts, status,
                          next_attempt_at FROM outbox
                   WHERE chat_id = :chat AND (status = 'pending'
                      OR (status = 'sending' AND (claimed_until <= :now OR claimed_by = :sender)))
                   ORDER BY id LIMIT 1""",
                {"chat": chat_id, "now": iso(now), "sender": sender},
            )
            if not rows or (
                rows[0]["status"] == "pending" and (rows[0]["next_attempt_at"] or "") > iso(now)
            ):
                return None
            row = rows[0]
            self.db.execute(
                """UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_until = ?
                   WHERE id = ?""",
                (sender, iso(until), row["id"]),
            )
        return OutboxMessage(
            id=row["id"],
            chat_id=row["chat_id"],
            kind=row["kind"],
            dedupe_key=row["dedupe_key"],
            payload=json.loads(row["payload"]),
            attempts=row["attempts"],
        )

    def finish_sent(self, outbox_id: int, sender: str, now: datetime) -> bool:
        """The claimed message was delivered. False when the claim was lost (it expired
        and another sender took the row): then that sender may deliver it again."""
        return self._finish(outbox_id, sender, "sent", sent_at=iso(now), error=None)

    def finish_retry(
        self,
        outbox_id: int,
        sender: str,
        error: str,
        retry_at: datetime,
        counts_as_attempt: bool = True,
    ) -> bool:
        """Back in the queue, due at `retry_at`; a 429 ("later") is not an attempt."""
        return self._finish(
            outbox_id,
            sender,
            "pending",
            attempts_delta=int(counts_as_attempt),
            next_attempt_at=iso(retry_at),
            error=error,
        )

    def finish_failed(self, outbox_id: int, sender: str, error: str) -> bool:
        return self._finish(outbox_id, sender, "failed", error=error)

    def _finish(
        self, outbox_id: int, sender: str, status: str, attempts_delta: int = 1, **fields: Any
    ) -> bool:
        sets = "".join(f", {k} = ?" for k in fields)
        with self.transaction():
            cursor = self.db.execute(
                f"""UPDATE outbox SET status = ?, attempts = attempts + ?, claimed_by = NULL,
                      claimed_until = NULL{sets}
                    WHERE id = ? AND status = 'sending' AND claimed_by = ?""",
                (status, attempts_delta, *fields.values(), outbox_id, sender),
            )
        return cursor.rowcount > 0

    def fail_queue(self, chat_id: str, error: str) -> int:
        """Give up on every message still waiting for a chat that is gone; returns how many.
        A message another sender has in flight is left to that sender."""
        with self.transaction():
            cursor = self.db.execute(
                """UPDATE outbox SET status = 'failed', error = ?
                   WHERE chat_id = ? AND status IN ('pending', 'held')""",
                (error, chat_id),
            )
        return cursor.rowcount

    def release_held(self, now: datetime) -> int:
        """Alerts held while their chat was muted join its queue once the mute is over
        (it ran out, or /unmute); returns how many."""
        with self.transaction():
            cursor = self.db.execute(
                """UPDATE outbox SET status = 'pending', next_attempt_at = :now
                   WHERE status = 'held' AND chat_id NOT IN
                     (SELECT chat_id FROM chats WHERE muted_until > :now)""",
                {"now": iso(now)},
            )
        return cursor.rowcount

    def held_count(self, chat_id: str) -> int:
        return int(
            self._value(
                "SELECT count(*) FROM outbox WHERE chat_id = ? AND status = 'held'", (chat_id,)
            )
        )

    def search(self, query: str, limit: int = 10) -> tuple[list[dict], str | None]:
        """`search_articles`, and when nothing matches, once more with each word the index
        does not know replaced by the closest one it does ("sheinbuam" -> "sheinbaum").
        Returns the rows and the corrected query, or None when it was not corrected."""
        rows = self.search_articles(query, limit)
        if rows:
            return rows, None
        words = search_words(query)
        corrected = [self._closest_indexed_word(w) or w for w in words]
        if corrected == words:
            return [], None
        return self.search_articles(corrected, limit), " ".join(corrected)

    def _closest_indexed_word(self, word: str) -> str | None:
        """The indexed word closest to a word the index does not hold (a typo), or None."""
        if word.endswith("*") or len(word) < PREFIX_FROM:
            return None
        if self._value("SELECT 1 FROM articles_fts_words WHERE term = ?", (word,)):
            return None
        # words that start alike are the candidates: a typo rarely hits the first letters
        near = [
            r["term"]
            for r in self._rows(
                "SELECT term FROM articles_fts_words WHERE term >= ? AND term < ? LIMIT 5000",
                (word[:2], word[:2] + "\uffff"),
            )
        ]
        close = difflib.get_close_matches(word, near, n=1, cutoff=0.8)
        return close[0] if close else None

    def search_articles(self, query: str | list[str], limit: int = 10) -> list[dict]:
        """Stored articles matching every word of `query`, newest first.

        `snippet` marks the matched words with SNIPPET_OPEN/SNIPPET_CLOSE. The user's
        words are quoted one by one (`fts_query`), so `AND(` or a stray quote is
        just text, never FTS syntax. Articles become searchable once the cycle that
        stored them has indexed them (`index_new_articles`).
        """
        match = fts_query(query)
        if match is None:
            return []
        return self._rows(
            """SELECT a.id, a.url, a.title, a.source, a.published_at,
                 snippet(articles_fts, -1, ?, ?, '…', 16) AS snippet
               FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid
               WHERE articles_fts MATCH ?
               ORDER BY a.published_at DESC, a.seen_at DESC LIMIT ?""",
            (SNIPPET_OPEN, SNIPPET_CLOSE, match, limit),
        )

    def index_new_articles(self) -> int:
        """Add the articles stored since the last call to the /search index; return how many.

        Called once a cycle has stored its feeds (m005): FTS5 then writes one index
        segment for the whole cycle instead of one per feed's transaction.
        """
        with self.transaction():
            (mark,) = self.db.execute(
                "SELECT indexed_rowid FROM search_index WHERE id = 1"
            ).fetchone()
            (top,) = self.db.execute("SELECT coalesce(max(rowid), 0) FROM articles").fetchone()
            if top <= mark:  # nothing new (deleting the newest rows lowers the mark: m006)
                return 0
            added = self.db.execute(
                """INSERT INTO articles_fts (rowid, title, summary)
                   SELECT rowid, title, summary FROM articles WHERE rowid > ? AND rowid <= ?""",
                (mark, top),
            ).rowcount
            self.db.execute("UPDATE search_index SET indexed_rowid = ? WHERE id = 1", (top,))
        return added

    def recent_hits(self, chat_id: str, n: int = 5) -> list[dict]:
        """Hits for the chat's subscriptions on its `n` most recent articles, newest first;
        an article with several hits comes as several rows, one after the other."""
        return self._rows(
            """WITH mine AS (
                 SELECT h.* FROM hits h JOIN subscriptions s
                   ON s.chat_id = ? AND s.watchlist = h.watchlist
                  AND (s.topics = '[]' OR h.topic IN (SELECT value FROM json_each(s.topics)))
               ), latest AS (
                 SELECT article_id, max(id) AS last_id FROM mine
                 GROUP BY article_id ORDER BY last_id DESC LIMIT ?
               )
               SELECT mine.id AS hit_id, mine.article_id, mine.watchlist, mine.topic,
                 mine.term, mine.snippet, mine.created_at, a.url, a.title, a.source,
                 a.published_at
               FROM mine JOIN latest ON latest.article_id = mine.article_id
                 JOIN articles a ON a.id = mine.article_id
               ORDER BY latest.last_id DESC, mine.id""",
            (chat_id, n),
        )

    # -- hits for digests and status --------------------------------------------------------
    _HIT_ROWS = """SELECT h.id AS hit_id, h.article_id, h.watchlist, h.topic, h.term, h.score,
                 h.snippet, h.field, h.priority, h.created_at,
                 a.url, a.title, a.summary, a.published_at, a.source, a.feed_url, a.title_key,
                 (SELECT group_concat(coalesce(f.name, f.title, af.feed_url), '\n')
                    FROM article_feeds af LEFT JOIN feeds f ON f.url = af.feed_url
                    WHERE af.article_id = a.id) AS sources,
                 (SELECT group_concat(v.chat_id || '=' || v.vote, ' ') FROM votes v
                    WHERE v.hit_id = h.id) AS votes
               FROM hits h JOIN articles a ON a.id = h.article_id"""

    def hits_between(self, since: datetime, until: datetime) -> list[dict]:
        """Hits created in [since, until), joined with their article and its sources."""
        return self._rows(
            self._HIT_ROWS + " WHERE h.created_at >= ? AND h.created_at < ? ORDER BY h.id",
            (iso(since), iso(until)),
        )

    def hits_after(self, last_hit_id: int) -> list[dict]:
        """Hits stored after `last_hit_id`: a digest window with no gap and no overlap,
        whatever the clocks and time zones did in between."""
        return self._rows(self._HIT_ROWS + " WHERE h.id > ? ORDER BY h.id", (last_hit_id,))

    def last_hit_id(self, before: datetime | None = None) -> int:
        if before is None:
            return int(self._value("SELECT max(id) FROM hits") or 0)
        return int(
            self._value("SELECT max(id) FROM hits WHERE created_at < ?", (iso(before),)) or 0
        )

    def record_digest(
        self, chat_id: str, date: str, hit_count: int, last_hit_id: int, now: datetime
    ) -> None:
        """Remember what a chat's digest covered; the next one starts after `last_hit_id`."""
        self.db.execute(
            """INSERT OR IGNORE INTO digests (chat_id, date, created_at, hit_count, until,
                 last_hit_id) VALUES (?, ?, ?, ?, ?, ?)""",
            (chat_id, date, iso(now), hit_count, iso(now), last_hit_id),
        )
        self.db.execute(
            "UPDATE chats SET last_digest_at = ?, last_digest_hit_id = ? WHERE chat_id = ?",
            (iso(now), last_hit_id, chat_id),
        )

    # -- relevance votes and surges ------------------------------------------------------
    def hit_ids(self, article_id: str, topics: Iterable[tuple[str, str]]) -> list[int]:
        """The ids of an article's hits on these (watchlist, topic) pairs."""
        ids = []
        for watchlist, topic in topics:
            found = self._value(
                "SELECT id FROM hits WHERE article_id = ? AND watchlist = ? AND topic = ?",
                (article_id, watchlist, topic),
            )
            if found is not None:
                ids.append(int(found))
        return ids

    def add_vote_target(self, hit_ids: Sequence[int], chat_id: str, now: datetime) -> str:
        """A short token (`<id>-<secret>`) for a button in `chat_id` that votes on these hits.

        The id finds the row; the random secret (64 bits) makes a token unguessable, and
        the token votes only from the chat it was sent to."""
        secret = secrets.token_urlsafe(8)
        cursor = self.db.execute(
            "INSERT INTO vote_targets (hit_ids, created_at, chat_id, secret) VALUES (?, ?, ?, ?)",
            (json.dumps(list(hit_ids)), iso(now), chat_id, secret),
        )
        return f"{cursor.lastrowid}-{secret}"

    def record_vote(self, token: str, chat_id: str, vote: str, now: datetime) -> int:
        """Store a chat's vote on the hits behind a button; a second vote replaces the first.
        Returns how many hits it applied to: 0 for an unknown, forged or foreign token, or
        for hits since removed."""
        row_id, _, secret = token.partition("-")
        if not row_id.isdigit() or not secret:
            return 0
        rows = self._rows(
            "SELECT hit_ids, chat_id, secret FROM vote_targets WHERE id = ?", (int(row_id),)
        )
        if not rows or rows[0]["chat_id"] != chat_id or rows[0]["secret"] is None:
            return 0
        if not secrets.compare_digest(rows[0]["secret"], secret):
            return 0
        raw = rows[0]["hit_ids"]
        with self.transaction():
            cursor = self.db.execute(
                """INSERT INTO votes (hit_id, chat_id, vote, voted_at)
                   SELECT h.id, ?, ?, ? FROM hits h WHERE h.id IN (SELECT value FROM json_each(?))
                   ON CONFLICT (hit_id, chat_id)
                   DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at""",
                (chat_id, vote, iso(now), raw),
            )
        return cursor.rowcount

    def votes(self, chat_id: str | None = None) -> list[dict]:
        sql = "SELECT * FROM votes" + (" WHERE chat_id = ?" if chat_id else "")
        return self._rows(sql + " ORDER BY hit_id, chat_id", (chat_id,) if chat_id else ())

    def vote_stats(self, since: datetime) -> list[dict]:
        """Per watchlist, topic and term: hits since `since`, hits voted on, and the votes."""
        return self._rows(
            """SELECT h.watchlist, h.topic, h.term, count(DISTINCT h.id) AS hits,
                 count(DISTINCT v.hit_id) AS voted,
                 coalesce(sum(v.vote = 'relevant'), 0) AS relevant,
                 coalesce(sum(v.vote = 'not_relevant'), 0) AS not_relevant
               FROM hits h LEFT JOIN votes v ON v.hit_id = h.id
               WHERE h.created_at >= ?
               GROUP BY h.watchlist, h.topic, h.term""",
            (iso(since),),
        )

    def last_change_at(self) -> datetime | None:
        """When the newest hit or vote was stored: archive pages older than this are stale."""
        return parse_iso(
            self._value(
                """SELECT max(coalesce((SELECT max(created_at) FROM hits), ''),
                     coalesce((SELECT max(voted_at) FROM votes), ''))"""
            )
            or None
        )

    def surge_candidates(self, feed_url: str, now: datetime) -> list[str]:
        """Articles this feed carried for the first time at `now` that have a normal-priority
        hit: stories another outlet may just have made a surge of."""
        rows = self._rows(
            """SELECT af.article_id FROM article_feeds af
               WHERE af.feed_url = ? AND af.seen_at >= ? AND EXISTS (
                 SELECT 1 FROM hits h WHERE h.article_id = af.article_id
                   AND h.priority = 'normal')
               ORDER BY af.article_id""",
            (feed_url, iso(now)),
        )
        return [r["article_id"] for r in rows]

    def story_outlets(self, article_id: str, since: datetime) -> list[str]:
        """Distinct outlets (feed names) that carried the article since `since`, first first."""
        rows = self._rows(
            """SELECT coalesce(f.name, f.title, af.feed_url) AS outlet
               FROM article_feeds af LEFT JOIN feeds f ON f.url = af.feed_url
               WHERE af.article_id = ? AND af.seen_at >= ?
               GROUP BY outlet ORDER BY min(af.seen_at), outlet""",
            (article_id, iso(since)),
        )
        return [r["outlet"] for r in rows]

    def article_hits(self, article_id: str, priority: str | None = None) -> list[dict]:
        """An article's hits joined with the article, like the digest's rows."""
        sql = self._HIT_ROWS + " WHERE h.article_id = ?"
        params: list[Any] = [article_id]
        if priority is not None:
            sql += " AND h.priority = ?"
            params.append(priority)
        return self._rows(sql + " ORDER BY h.id", params)

    def outbox_key_exists(self, dedupe_key: str) -> bool:
        return bool(self._value("SELECT 1 FROM outbox WHERE dedupe_key = ?", (dedupe_key,)))

    def start_cycle(self, now: datetime) -> int:
        with self.transaction():
            cursor = self.db.execute("INSERT INTO cycles (started_at) VALUES (?)", (iso(now),))
        return int(cursor.lastrowid or 0)

    def finish_cycle(self, cycle_id: int, now: datetime, **counts: Any) -> None:
        started = parse_iso(self._value("SELECT started_at FROM cycles WHERE id = ?", (cycle_id,)))
        duration = (now - started).total_seconds() if started else None
        sets = ", ".join(f"{k} = ?" for k in counts)
        with self.transaction():
            self.db.execute(
                f"UPDATE cycles SET finished_at = ?, duration = ?, {sets} WHERE id = ?",
                (iso(now), duration, *counts.values(), cycle_id),
            )

    def last_cycle(self, finished_only: bool = True) -> dict | None:
        where = "WHERE finished_at IS NOT NULL" if finished_only else ""
        rows = self._rows(f"SELECT * FROM cycles {where} ORDER BY id DESC LIMIT 1")
        return rows[0] if rows else None

    def status_counts(self, hits_since: datetime) -> dict[str, Any]:
        """Numbers for `monitor status` and the bot's /status."""
        feeds = self._rows(
            """SELECT count(*) AS total, sum(failures = 0) AS ok, sum(failures > 0) AS failing,
                 max(last_ok_at) AS last_ok_at FROM feeds WHERE active = 1"""
        )[0]
        return {
            "feeds_total": feeds["total"] or 0,
            "feeds_ok": feeds["ok"] or 0,
            "feeds_failing": feeds["failing"] or 0,
            "last_feed_ok_at": feeds["last_ok_at"],
            "articles": self._value("SELECT count(*) FROM articles"),
            "hits_today": self._value(
                "SELECT count(*) FROM hits WHERE created_at >= ?", (iso(hits_since),)
            ),
            "outbox_pending": self._value(
                "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
            ),
            "outbox_held": self._value("SELECT count(*) FROM outbox WHERE status = 'held'"),
            "outbox_failed": self._value("SELECT count(*) FROM outbox WHERE status = 'failed'"),
            "outbox_oldest_pending": self._value(
                "SELECT min(created_at) FROM outbox WHERE status IN ('pending', 'sending')"
            ),
            "subscribers": self._value(
                "SELECT count(DISTINCT chat_id) FROM subscriptions WHERE paused = 0"
            ),
        }

    def failing_feeds(self) -> list[dict]:
        return self._rows(
            """SELECT url, last_error, failures, last_ok_at, next_attempt_at FROM feeds
               WHERE active = 1 AND failures > 0 ORDER BY failures DESC, url"""
        )

    # -- housekeeping --------------------------------------------------------------------
    def prune_batch(self, cutoff: datetime, limit: int = 500) -> int:
        """Delete up to `limit` articles first seen before `cutoff` that no hit refers to,
        with their feed links; hits and their articles are kept for good. Small batches,
        each its own short transaction, so a big backlog never holds the write lock long."""
        with self.transaction():
            ids = [
                r["id"]
                for r in self._rows(
                    """SELECT id FROM articles WHERE seen_at < ?
                     AND NOT EXISTS (SELECT 1 FROM hits WHERE hits.article_id = articles.id)
                   LIMIT ?""",
                    (iso(cutoff), limit),
                )
            ]
            if not ids:
                return 0
            marks = ",".join("?" * len(ids))
            self.db.execute(f"DELETE FROM article_feeds WHERE article_id IN ({marks})", ids)
            self.db.execute(f"DELETE FROM articles WHERE id IN ({marks})", ids)
        return len(ids)

    def prune_logs(self, cutoff: datetime) -> int:
        """Delivered or failed outbox rows, cycle records and vote-button tokens older than
        `cutoff` (a vote on a message that old gets the polite "expired" answer)."""
        with self.transaction():
            removed = 0
            for sql in (
                "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND created_at < ?",
                "DELETE FROM cycles WHERE started_at < ?",
                "DELETE FROM vote_targets WHERE created_at < ?",
            ):
                removed += self.db.execute(sql, (iso(cutoff),)).rowcount
        return removed

    def optimize(self) -> None:
        """VACUUM-free upkeep: refresh the planner's statistics, fold the WAL back."""
        self.db.execute("PRAGMA optimize")
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def subscribers_of(self, watchlist: str) -> list[str]:
        rows = self._rows(
            "SELECT chat_id FROM subscriptions WHERE watchlist = ? AND paused = 0 ORDER BY chat_id",
            (watchlist,),
        )
        return [r["chat_id"] for r in rows]


_ARTICLE_COLUMNS = [
    "id",
    "feed_url",
    "url",
    "title",
    "summary",
    "content",
    "published_at",
    "seen_at",
    "title_key",
    "source",
    "lang",
]
_INSERT_ARTICLE = (
    f"INSERT INTO articles ({', '.join(_ARTICLE_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _ARTICLE_COLUMNS)})"
)


def _article_row(article: Article, key: str | None, now: datetime) -> dict:
    return {
        "id": article.id,
        "feed_url": article.feed_url,
        "url": article.url,
        "title": article.title,
        "summary": article.summary,
        "content": article.content,
        "published_at": iso(article.published_at or now),
        "seen_at": iso(now),
        "title_key": key,
        "source": article.source,
        "lang": article.lang,
    }


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), SQL_BATCH):
        yield list(values[start : start + SQL_BATCH])


def _article_from_row(row: dict) -> Article:
    return Article(
        id=row["id"],
        feed_url=row["feed_url"],
        url=row["url"],
        title=row["title"],
        summary=row["summary"] or "",
        content=row["content"] or "",
        published_at=parse_iso(row["published_at"]),
        source=row["source"] or "",
        lang=row["lang"],
    )
