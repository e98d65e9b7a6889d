"""Hits -> `Digest`: grouped, deduplicated, ranked. Renderings live in `digest_render`.

One Digest object feeds all three renderings (console text, Telegram HTML,
the archived page), so they always say the same thing. Topics are grouped by
watchlist, high-priority topics first. Inside a topic, one entry per story:
articles with the same canonical URL or near-identical titles from several
outlets collapse into one entry that lists its sources. Entries rank by
number of sources, then priority, then recency: a story many outlets carried
is what the analyst reads first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.core.timeutil import parse_iso
from monitor.text.textnorm import fold_tokens

SAME_STORY_JACCARD = 0.8
SAME_STORY_MIN_WORDS = 4  # shorter titles ("Sheinbaum speaks") say too little to merge on


@dataclass(frozen=True, slots=True)
class DigestEntry:
    title: str
    url: str
    sources: tuple[str, ...]
    published_at: datetime | None
    term: str
    snippet: str
    hit_ids: tuple[int, ...]
    article_ids: tuple[str, ...]
    priority: str = "normal"
    relevant: int = 0  # chats that voted the story relevant
    not_relevant: int = 0
    also_in: tuple[str, ...] = ()  # the titles of the other topics the story hit


@dataclass(frozen=True, slots=True)
class DigestTopic:
    watchlist: str
    topic: str
    title: str
    priority: str
    entries: tuple[DigestEntry, ...]
    watchlist_title: str = ""
    more: int = 0  # stories left out of a capped digest (`Digest.capped`)

    @property
    def hit_count(self) -> int:
        return sum(len(e.hit_ids) for e in self.entries)

    @property
    def story_count(self) -> int:
        return len(self.entries) + self.more


@dataclass(frozen=True, slots=True)
class Digest:
    date: str  # local date, YYYY-MM-DD
    timezone: str
    topics: tuple[DigestTopic, ...]
    generated_at: datetime | None = None

    @property
    def hit_count(self) -> int:
        return sum(t.hit_count for t in self.topics)

    @property
    def story_count(self) -> int:
        return sum(t.story_count for t in self.topics)

    def capped(self, per_topic: int) -> Digest:
        """At most `per_topic` stories under each topic, the best first; the rest counted
        in `more`. A busy day's digest was 50 Telegram messages with 1,000 buttons."""
        return replace(
            self,
            topics=tuple(
                replace(
                    t,
                    entries=t.entries[:per_topic],
                    more=t.more + max(len(t.entries) - per_topic, 0),
                )
                for t in self.topics
            ),
        )

    def numbered(self) -> list[tuple[int, DigestTopic, DigestEntry]]:
        """Every entry with its number (1, 2, …) in reading order: the feedback buttons and
        the text say "3" for the same story."""
        ordered = [(topic, entry) for topic in self.topics for entry in topic.entries]
        return [(n, topic, entry) for n, (topic, entry) in enumerate(ordered, start=1)]


def build_digest(
    rows: Iterable[Mapping],
    date: str,
    tz: ZoneInfo,
    topic_titles: Mapping[tuple[str, str], str] | None = None,
    watchlist_titles: Mapping[str, str] | None = None,
    generated_at: datetime | None = None,
) -> Digest:
    """Group hit rows (from `Store.hits_between` / `hits_after`) into a ranked digest.

    A story is listed once, under the first of its topics in reading order, with "also
    in" naming the others: the same headline under three topics was counted as three
    stories ("18 stories" for 11 links). Stories are found across topics (same URL, or
    titles sharing 80% of their words), so every count is of distinct stories.
    """
    titles, wl_titles = topic_titles or {}, watchlist_titles or {}
    stories = _collapse(list(rows))
    per_topic: dict[tuple[str, str], list[list[Mapping]]] = {}
    for story in stories:
        for key in dict.fromkeys((r["watchlist"], r["topic"]) for r in story):
            per_topic.setdefault(key, []).append(story)
    order = _topic_order(per_topic)
    placed: dict[tuple[str, str], list[DigestEntry]] = {key: [] for key in order}
    for story in stories:
        keys = sorted(dict.fromkeys((r["watchlist"], r["topic"]) for r in story), key=order.index)
        others = tuple(titles.get(k, k[1]) for k in keys[1:])
        placed[keys[0]].append(_entry(story, keys[0], others))
    topics = []
    for key in order:
        if not placed[key]:
            continue  # every story of this topic is listed under an earlier one
        watchlist, topic = key
        topic_rows = [
            r for story in per_topic[key] for r in story if (r["watchlist"], r["topic"]) == key
        ]
        priority = "high" if any(r["priority"] == "high" for r in topic_rows) else "normal"
        entries = tuple(sorted(placed[key], key=_entry_rank))
        title = titles.get(key, topic)
        topics.append(
            DigestTopic(
                watchlist, topic, title, priority, entries, wl_titles.get(watchlist, watchlist)
            )
        )
    return Digest(date, tz.key, tuple(topics), generated_at)


def _entry_rank(entry: DigestEntry) -> tuple:
    published = entry.published_at.timestamp() if entry.published_at else 0.0
    return (-len(entry.sources), entry.priority != "high", -published, entry.title)


def _topic_order(per_topic: Mapping[tuple[str, str], list[list[Mapping]]]) -> list[tuple[str, str]]:
    """Watchlists together (the one with high-priority news first, then the busiest);
    inside each, high-priority topics first, then by number of stories."""
    high = {
        k: any(r["priority"] == "high" and (r["watchlist"], r["topic"]) == k for s in v for r in s)
        for k, v in per_topic.items()
    }
    weight: dict[str, tuple[bool, int]] = {}
    for (watchlist, _), stories in per_topic.items():
        is_high, count = weight.get(watchlist, (False, 0))
        weight[watchlist] = (is_high or high[(watchlist, _)], count + len(stories))
    return sorted(
        per_topic,
        key=lambda k: (
            not weight[k[0]][0],
            -weight[k[0]][1],
            k[0],
            not high[k],
            -len(per_topic[k]),
            k[1],
        ),
    )


def _collapse(rows: list[Mapping]) -> list[list[Mapping]]:
    """Merge rows that are one story: same URL, or titles sharing 80% of their words.

    Each row joins the first story (in order of creation) it matches. Comparing it
    with every story would cost O(n²) for a busy day's page; `_Stories` finds the
    few that can match first.
    """
    stories = _Stories()
    for row in sorted(rows, key=lambda r: (r["created_at"], r["hit_id"])):
        stories.add(row)
    return stories.rows


class _Stories:
    """Stories being built, with a URL map and an index of their words.

    A title `a` can reach a Jaccard similarity of SAME_STORY_JACCARD with a story's
    words `b` only if they share at least `need` = floor(0.8 * |a|) words, so `b`
    holds one of any |a| - need + 1 words of `a`: looking up the rarest of them
    finds every story that can match, and the Jaccard rule then decides.
    """

    def __init__(self) -> None:
        self.rows: list[list[Mapping]] = []
        self.words: list[set[str]] = []
        self.first_by_url: dict[str, int] = {}
        self.by_word: dict[str, list[int]] = {}

    def add(self, row: Mapping) -> None:
        row_words = set(fold_tokens(row["title"]))
        index = self._find(row["url"], row_words)
        if index is None:
            index = len(self.rows)
            self.rows.append([])
            self.words.append(set())
            self.first_by_url.setdefault(row["url"], index)
        self.rows[index].append(row)
        for word in row_words - self.words[index]:
            self.by_word.setdefault(word, []).append(index)
        self.words[index] |= row_words

    def _find(self, url: str, row_words: set[str]) -> int | None:
        best = self.first_by_url.get(url)
        if len(row_words) >= SAME_STORY_MIN_WORDS:
            need = max(int(SAME_STORY_JACCARD * len(row_words)), 1)
            probes = sorted(row_words, key=lambda w: len(self.by_word.get(w, ())))
            candidates = {
                i for w in probes[: len(row_words) - need + 1] for i in self.by_word.get(w, ())
            }
            for index in sorted(candidates):
                if best is not None and index >= best:
                    break
                if _jaccard(row_words, self.words[index]) >= SAME_STORY_JACCARD:
                    best = index
                    break
        return best


def _jaccard(a: set[str], b: set[str]) -> float:
    if len(a) < SAME_STORY_MIN_WORDS or len(b) < SAME_STORY_MIN_WORDS:
        return 0.0
    return len(a & b) / len(a | b)


def _entry(story: list[Mapping], topic: tuple[str, str], also_in: tuple[str, ...]) -> DigestEntry:
    """One story: told by its best hit on `topic`, first published when its earliest
    outlet published it, with every outlet and every hit (votes land on all of them)."""
    lead = max(
        (r for r in story if (r["watchlist"], r["topic"]) == topic), key=lambda r: r["score"]
    )
    sources: list[str] = []
    for row in story:
        for source in row.get("sources") or [row.get("source") or ""]:
            if source and source not in sources:
                sources.append(source)
    published = [p for p in (parse_iso(r["published_at"]) for r in story) if p is not None]
    relevant, not_relevant = _vote_counts(story)
    return DigestEntry(
        title=lead["title"],
        url=lead["url"],
        sources=tuple(sources),
        published_at=min(published) if published else None,
        term=lead["term"],
        snippet=lead["snippet"],
        hit_ids=tuple(r["hit_id"] for r in story),
        article_ids=tuple(dict.fromkeys(r["article_id"] for r in story)),
        priority="high" if any(r["priority"] == "high" for r in story) else "normal",
        relevant=relevant,
        not_relevant=not_relevant,
        also_in=also_in,
    )


def _vote_counts(story: list[Mapping]) -> tuple[int, int]:
    """Chats that voted the story relevant / not relevant. A vote on a digest entry lands
    on each of its hits: count each chat once, by its vote on the latest hit."""
    by_chat: dict[str, str] = {}
    for row in sorted(story, key=lambda r: r["hit_id"]):
        by_chat.update(row.get("votes") or {})
    choices = list(by_chat.values())
    return choices.count("relevant"), choices.count("not_relevant")
