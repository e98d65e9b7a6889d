"""`monitor stats`: relevance votes per watchlist topic and per term, noisiest first.

The point is to show which term brings in stories analysts mark 👎 "not
relevant", so the watchlist TOML can be fixed (an `exclude`, a narrower
`all_of`, a dropped alias). Votes count per hit: a vote on a digest entry that
three outlets carried counts for each of its three hits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from monitor.storage import Store
from monitor.text.textnorm import plural


@dataclass(frozen=True, slots=True)
class Tally:
    hits: int = 0
    voted: int = 0  # hits with at least one vote
    relevant: int = 0
    not_relevant: int = 0

    @property
    def votes(self) -> int:
        return self.relevant + self.not_relevant

    @property
    def share_not_relevant(self) -> float | None:
        return self.not_relevant / self.votes if self.votes else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.hits + other.hits,
            self.voted + other.voted,
            self.relevant + other.relevant,
            self.not_relevant + other.not_relevant,
        )


@dataclass(frozen=True, slots=True)
class TermStats:
    term: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class TopicStats:
    watchlist: str
    topic: str
    title: str
    tally: Tally
    terms: tuple[TermStats, ...] = field(default_factory=tuple)


def noisiness(tally: Tally) -> tuple:
    """Sort key, noisiest first: by the lower bound of the share voted not relevant (Wilson,
    95%), so 12 of 20 votes outranks a single vote at 100%; then the most hits. Terms
    nobody voted on come last."""
    return (tally.votes == 0, -wilson_lower_bound(tally.not_relevant, tally.votes), -tally.hits)


def wilson_lower_bound(successes: int, trials: int, z: float = 1.96) -> float:
    if trials == 0:
        return 0.0
    share = successes / trials
    centre = share + z * z / (2 * trials)
    spread = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return (centre - spread) / (1 + z * z / trials)


def collect_stats(
    store: Store, now: datetime, days: int, titles: Mapping[tuple[str, str], str]
) -> list[TopicStats]:
    by_topic: dict[tuple[str, str], list[TermStats]] = {}
    for row in store.vote_stats(now - timedelta(days=days)):
        tally = Tally(row["hits"], row["voted"], row["relevant"], row["not_relevant"])
        by_topic.setdefault((row["watchlist"], row["topic"]), []).append(
            TermStats(row["term"], tally)
        )
    topics = []
    for (watchlist, topic), terms in by_topic.items():
        total = sum((t.tally for t in terms), Tally())
        terms.sort(key=lambda t: (*noisiness(t.tally), t.term))
        title = titles.get((watchlist, topic), topic)
        topics.append(TopicStats(watchlist, topic, title, total, tuple(terms)))
    topics.sort(key=lambda t: (*noisiness(t.tally), t.watchlist, t.topic))
    return topics


def stats_json(topics: list[TopicStats], since: datetime, days: int) -> dict:
    def tally(t: Tally) -> dict:
        return {**asdict(t), "share_not_relevant": t.share_not_relevant}

    return {
        "since": since.isoformat(timespec="seconds"),
        "days": days,
        "topics": [
            {
                "watchlist": t.watchlist,
                "topic": t.topic,
                "title": t.title,
                **tally(t.tally),
                "terms": [{"term": s.term, **tally(s.tally)} for s in t.terms],
            }
            for t in topics
        ],
    }


def _votes(count: int) -> str:
    return f"{count} vote" if count == 1 else f"{count} votes"


def _share(tally: Tally) -> str:
    share = tally.share_not_relevant
    return "—" if share is None else f"{share:.0%}"


def format_stats(topics: list[TopicStats], since: datetime, days: int) -> str:
    lines = [f"Relevance votes on hits stored since {since:%Y-%m-%d} (last {plural(days, 'day')})"]
    if not topics:
        return lines[0] + "\nNo hits in that period."
    noisy = [
        (topic, term)
        for topic in topics
        for term in topic.terms
        if term.tally.not_relevant and term.tally.not_relevant >= term.tally.relevant
    ]
    noisy.sort(key=lambda pair: noisiness(pair[1].tally))
    lines.append("")
    if noisy:
        lines.append("Noisiest terms (most voted not relevant; more votes weigh more):")
        for topic, term in noisy[:10]:
            tally = term.tally
            lines.append(
                f"  {_share(tally):>5} not relevant ({tally.not_relevant} of {_votes(tally.votes)})"
                f"  {topic.watchlist}/{topic.topic}  {term.term!r}"
            )
    else:
        lines.append("No term has more votes 'not relevant' than 'relevant'.")
    labels = [f"{t.watchlist}/{t.topic}" for t in topics]
    labels += [f"  {s.term!r}" for t in topics for s in t.terms]
    width = min(60, max(len(label) for label in labels))
    head = (
        f"{'TOPIC / term':<{width}}  {'HITS':>5}  {'VOTED':>5}  {'RELEVANT':>8}"
        f"  {'NOT RELEVANT':>12}  {'SHARE':>5}"
    )
    lines += ["", head]
    for topic in topics:
        lines.append(_row(f"{topic.watchlist}/{topic.topic}", topic.tally, width))
        for term in topic.terms:
            lines.append(_row(f"  {term.term!r}", term.tally, width))
    lines.append(
        "\nSHARE: votes 'not relevant' out of all votes on the hits; — means no votes yet."
    )
    return "\n".join(lines)


def _row(label: str, t: Tally, width: int) -> str:
    return (
        f"{label:<{width}}  {t.hits:>5}  {t.voted:>5}  {t.relevant:>8}  {t.not_relevant:>12}"
        f"  {_share(t):>5}"
    )
