"""/search: the FTS5 index over titles and summaries."""

from __future__ import annotations

import difflib
import re

from monitor.storage.base import StorageBase
from monitor.storage.records import SearchRow
from monitor.text.textnorm import fold, token_key

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


class SearchMixin(StorageBase):
    def search(self, query: str, limit: int = 10) -> tuple[list[SearchRow], str | None]:
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

    def search_articles(self, query: str | list[str], limit: int = 10) -> list[SearchRow]:
        """Stored articles matching every word of `query`, newest first.

        `snippet` marks the matched words with SNIPPET_OPEN/SNIPPET_CLOSE. The user's
        words are quoted one by one (`fts_query`), so `AND(` or a stray quote is
        just text, never FTS syntax. Articles become searchable once the cycle that
        stored them has indexed them (`index_new_articles`).
        """
        match = fts_query(query)
        if match is None:
            return []
        return self._records(
            SearchRow,
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
