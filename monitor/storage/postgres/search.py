"""/search on PostgreSQL: tsvector documents in English, Spanish and as written, accents
folded by unaccent (schema p002), indexed in batches as SQLite's FTS5 index is."""

from __future__ import annotations

import re

from monitor.storage.postgres.base import PgBase
from monitor.storage.records import SearchRow
from monitor.storage.search import PREFIX_FROM, SNIPPET_CLOSE, SNIPPET_OPEN, search_words

CONFIGS = ("monitor_english", "monitor_spanish", "monitor_simple")
_DOCUMENT = " || ".join(
    f"setweight(to_tsvector('{c}', a.title), 'A') || to_tsvector('{c}', a.summary)" for c in CONFIGS
)
_HEADLINE_OPTIONS = (
    f"StartSel={SNIPPET_OPEN}, StopSel={SNIPPET_CLOSE}, MaxWords=16, MinWords=6,"
    " MaxFragments=1, FragmentDelimiter=…"
)


def ts_terms(words: str | list[str]) -> list[str]:
    """A user's words as tsquery terms, one per word: letters and digits only (so no
    word is tsquery syntax), a prefix (`:*`) from four letters or with a trailing `*`,
    as `fts_query` makes them for FTS5."""
    keys = search_words(words) if isinstance(words, str) else words
    terms = []
    for key in keys:
        bare = re.sub(r"[^\w]|_", "", key.rstrip("*"))
        if bare:
            prefix = key.endswith("*") or len(bare) >= PREFIX_FROM
            terms.append(bare + (":*" if prefix else ""))
    return terms


def tsquery_sql(terms: list[str]) -> tuple[str, list[str]]:
    """Every word required; each may match in any of the three configurations."""
    parts, params = [], []
    for term in terms:
        parts.append("(" + " || ".join(f"to_tsquery('{c}', %s)" for c in CONFIGS) + ")")
        params += [term] * len(CONFIGS)
    return " && ".join(parts), params


class PgSearchMixin(PgBase):
    def _closest_indexed_word(self, word: str) -> str | None:
        import difflib

        if word.endswith("*") or len(word) < PREFIX_FROM:
            return None
        if self.pg_value("SELECT 1 FROM articles_fts_words WHERE term = %s", (word,)):
            return None
        near = [
            r["term"]
            for r in self.pg_rows(
                "SELECT term FROM articles_fts_words WHERE term >= %s AND term < %s LIMIT 5000",
                (word[:2], word[:2] + "\uffff"),
            )
        ]
        close = difflib.get_close_matches(word, near, n=1, cutoff=0.8)
        return close[0] if close else None

    def search_articles(self, query: str | list[str], limit: int = 10) -> list[SearchRow]:
        terms = ts_terms(query)
        if not terms:
            return []
        match, params = tsquery_sql(terms)
        return self.pg_records(
            SearchRow,
            f"""WITH q AS (SELECT {match} AS query)
                SELECT a.id, a.url, a.title, a.source, a.published_at,
                  ts_headline(CASE WHEN a.lang = 'es' THEN 'monitor_spanish'
                                   ELSE 'monitor_english' END::regconfig,
                              a.title || ' — ' || a.summary, q.query, %s) AS snippet
                FROM q, articles_fts s JOIN articles a ON a.rowid = s.rowid
                WHERE s.document @@ q.query
                ORDER BY a.published_at DESC, a.seen_at DESC LIMIT %s""",
            [*params, _HEADLINE_OPTIONS, limit],
        )

    def index_new_articles(self) -> int:
        """Index the articles stored since the last call; their words join the vocabulary."""
        with self.transaction():
            mark = self.pg_value("SELECT indexed_rowid FROM search_index WHERE id = 1")
            top = self.pg_value("SELECT coalesce(max(rowid), 0) FROM articles")
            if top <= mark:
                return 0
            added = self.sql(
                f"""INSERT INTO articles_fts (rowid, document)
                    SELECT a.rowid, {_DOCUMENT} FROM articles a
                    WHERE a.rowid > %s AND a.rowid <= %s ON CONFLICT DO NOTHING""",
                (mark, top),
            ).rowcount
            self.sql(
                """INSERT INTO articles_fts_words (term)
                   SELECT word FROM ts_stat(format(
                     'SELECT to_tsvector(''monitor_simple'', title || '' '' || summary)
                      FROM articles WHERE rowid > %%s AND rowid <= %%s', %s, %s))
                   ON CONFLICT DO NOTHING""",
                (mark, top),
            )
            self.sql("UPDATE search_index SET indexed_rowid = %s WHERE id = 1", (top,))
        return int(added)
