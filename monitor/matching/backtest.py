"""What a changed watchlist would have caught among the articles already stored.

    store.articles_since(now - days) | one Matcher(current + candidate versions)
        | per topic: caught by both, newly caught, no longer caught | render

An analyst edits a copy of a watchlist and runs `monitor backtest COPY` before
saving it over the live one. The candidate replaces the current watchlist
with the same id; a new id is a new watchlist. Topics are matched
independently, so only the watchlists the candidate touches are compiled
(the others would give the same hits either way), and a topic whose
definition did not change is compiled once. Pure: no store, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.core.models import Article, Hit
from monitor.matching.library import compile_matcher
from monitor.matching.matcher import Matcher
from monitor.matching.watchlists import Topic, Watchlist
from monitor.text.textnorm import plural

CHANGED, NEW, REMOVED, SAME = "changed", "new topic", "removed topic", "unchanged"
BEFORE, AFTER = "\0before", "\0after"  # suffixes no watchlist id can have (see ID_RE)


@dataclass(frozen=True, slots=True)
class Caught:
    """One article a topic catches, with the term that caught it."""

    article_id: str
    title: str
    source: str
    url: str
    published_at: datetime | None
    term: str
    was: str = ""  # for articles caught by both: the current watchlist's term, if different


@dataclass(frozen=True, slots=True)
class TopicChange:
    watchlist: str
    topic: str
    title: str
    status: str  # CHANGED, NEW, REMOVED or SAME (the definition; hits may still differ)
    both: tuple[Caught, ...] = ()
    gained: tuple[Caught, ...] = ()
    lost: tuple[Caught, ...] = ()


@dataclass(frozen=True, slots=True)
class BacktestReport:
    articles: int
    since: datetime
    topics: tuple[TopicChange, ...]
    replaced: tuple[str, ...]  # watchlist ids the candidate replaces
    added: tuple[str, ...]  # watchlist ids that are new

    @property
    def gained(self) -> int:
        return sum(len(t.gained) for t in self.topics)

    @property
    def lost(self) -> int:
        return sum(len(t.lost) for t in self.topics)

    @property
    def both(self) -> int:
        return sum(len(t.both) for t in self.topics)


def run_backtest(
    articles: Sequence[Article],
    current: Sequence[Watchlist],
    candidate: Sequence[Watchlist],
    since: datetime,
) -> BacktestReport:
    """Match every article with the current and the candidate watchlists and compare."""
    candidate_ids = {w.id for w in candidate}
    baseline = [w for w in current if w.id in candidate_ids]
    pairs = [(old, new, _status(old, new)) for old, new in _topic_pairs(baseline, candidate)]
    hits = _hits_by_topic(_one_matcher(pairs), articles)
    by_id = {a.id: a for a in articles}
    changes = []
    for old, new, status in pairs:
        ref = new or old
        assert ref is not None  # a pair holds at least one side
        shared = status == SAME  # matched once, under its own watchlist id
        old_hits = hits.get((ref.watchlist + ("" if shared else BEFORE), ref.topic.id), {})
        new_hits = hits.get((ref.watchlist + ("" if shared else AFTER), ref.topic.id), {})
        changes.append(
            TopicChange(
                watchlist=ref.watchlist,
                topic=ref.topic.id,
                title=ref.topic.title,
                status=status,
                both=_caught(by_id, new_hits, new_hits.keys() & old_hits.keys(), old_hits),
                gained=_caught(by_id, new_hits, new_hits.keys() - old_hits.keys()),
                lost=_caught(by_id, old_hits, old_hits.keys() - new_hits.keys()),
            )
        )
    return BacktestReport(
        articles=len(articles),
        since=since,
        topics=tuple(changes),
        replaced=tuple(sorted(candidate_ids & {w.id for w in current})),
        added=tuple(sorted(candidate_ids - {w.id for w in current})),
    )


@dataclass(frozen=True, slots=True)
class _Ref:
    watchlist: str
    topic: Topic


def _topic_pairs(
    baseline: Sequence[Watchlist], candidate: Sequence[Watchlist]
) -> list[tuple[_Ref | None, _Ref | None]]:
    """(current topic or None, candidate topic or None), candidate order, removed ones last."""
    old = {(w.id, t.id): _Ref(w.id, t) for w in baseline for t in w.topics}
    new = {(w.id, t.id): _Ref(w.id, t) for w in candidate for t in w.topics}
    pairs = [(old.get(key), ref) for key, ref in new.items()]
    return pairs + [(ref, None) for key, ref in old.items() if key not in new]


def _status(old: _Ref | None, new: _Ref | None) -> str:
    if old is None:
        return NEW
    if new is None:
        return REMOVED
    # where the topic sits in its file is not part of what it matches
    return SAME if replace(old.topic, line=0) == replace(new.topic, line=0) else CHANGED


def _one_matcher(pairs: Sequence[tuple[_Ref | None, _Ref | None, str]]) -> Matcher:
    """One matcher for both versions, so each article is read once: an unchanged
    topic under its own watchlist id, the two versions of any other under
    `id + BEFORE` and `id + AFTER` (the matcher decides every topic on its own)."""
    groups: dict[str, list[Topic]] = {}
    for old, new, status in pairs:
        if status == SAME and new is not None:  # both sides, alike
            groups.setdefault(new.watchlist, []).append(new.topic)
            continue
        if old is not None:
            groups.setdefault(old.watchlist + BEFORE, []).append(old.topic)
        if new is not None:
            groups.setdefault(new.watchlist + AFTER, []).append(new.topic)
    return compile_matcher(
        [Watchlist(id=wid, title=wid, topics=tuple(ts)) for wid, ts in groups.items()]
    )


def _hits_by_topic(
    matcher: Matcher, articles: Iterable[Article]
) -> dict[tuple[str, str], dict[str, Hit]]:
    """(watchlist, topic) -> {article id: hit}."""
    found: dict[tuple[str, str], dict[str, Hit]] = {}
    for article in articles:
        for hit in matcher.match(article):
            found.setdefault((hit.watchlist, hit.topic), {})[article.id] = hit
    return found


def _caught(
    by_id: dict[str, Article],
    hits: dict[str, Hit],
    ids: Iterable[str],
    others: dict[str, Hit] | None = None,
) -> tuple[Caught, ...]:
    rows = []
    for article_id in ids:
        article, hit = by_id[article_id], hits[article_id]
        was = others[article_id].term if others and others[article_id].term != hit.term else ""
        rows.append(
            Caught(
                article_id=article_id,
                title=article.title,
                source=article.source or article.feed_url,
                url=article.url,
                published_at=article.published_at,
                term=hit.term,
                was=was,
            )
        )
    newest_first = sorted(rows, key=lambda c: c.article_id)
    newest_first.sort(key=lambda c: c.published_at.timestamp() if c.published_at else 0.0)
    return tuple(reversed(newest_first))


# -- rendering -------------------------------------------------------------------------
def render_backtest(
    report: BacktestReport, tz: ZoneInfo, days: int, limit: int = 20, show_both: bool = False
) -> str:
    """Readable text: changed topics with their articles, then a one-line total."""
    since = report.since.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"Backtest over {report.articles} articles stored since {since} ({plural(days, 'day')})."
    ]
    if report.replaced:
        lines.append(f"Replaces watchlist(s): {', '.join(report.replaced)}.")
    if report.added:
        lines.append(f"New watchlist(s): {', '.join(report.added)}.")
    quiet = [t for t in report.topics if t.status == SAME and not (t.gained or t.lost)]
    for change in report.topics:
        if change.status != SAME or change.gained or change.lost:
            lines += ["", *_render_topic(change, tz, limit, show_both)]
    if quiet:
        caught = sum(len(t.both) for t in quiet)
        names = ", ".join(t.topic for t in quiet)
        lines += ["", f"Unchanged: {names} ({caught} caught by both)"]
    lines += [
        "",
        f"Total: {report.gained} newly caught, {report.lost} no longer caught, "
        f"{report.both} caught by both.",
    ]
    return "\n".join(lines)


def _render_topic(change: TopicChange, tz: ZoneInfo, limit: int, show_both: bool) -> list[str]:
    lines = [
        f"{change.watchlist} / {change.topic} — {change.title} [{change.status}]",
        f"  caught by both: {len(change.both)}   newly caught: {len(change.gained)}"
        f"   no longer caught: {len(change.lost)}",
    ]
    sections = [("+", "term", change.gained), ("-", "was caught by", change.lost)]
    if show_both:
        sections.append(("=", "term", change.both))
    for mark, label, rows in sections:
        shown = rows if limit <= 0 else rows[:limit]
        for row in shown:
            when = row.published_at.astimezone(tz).strftime("%Y-%m-%d") if row.published_at else ""
            lines.append(f"  {mark} {when:10}  {row.source}: {row.title}")
            was = f" (was: {row.was})" if row.was else ""
            lines.append(f"      {label}: {row.term}{was}   {row.url}")
        if len(rows) > len(shown):
            lines.append(f"  {mark} … and {len(rows) - len(shown)} more (--limit 0 shows all)")
    return lines
