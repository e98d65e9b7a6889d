"""Digests: grouping, collapsing syndicated stories, ranking, three renderings."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from conftest import render_telegram, write_html_archive
from pngpixels import read_pixels

from monitor.core.models import Article, Hit
from monitor.delivery.render import TELEGRAM_LIMIT
from monitor.digests.build import build_digest
from monitor.digests.page import render_html_page
from monitor.digests.render import render_text

TZ = ZoneInfo("America/Mexico_City")
TITLES = {("w", "dea"): "DEA immunity", ("w", "people"): "Officials"}


def fill(store, clock, stories):
    """stories: (feed, article id, title, topic, priority, minutes after start)."""
    feeds = sorted({s[0] for s in stories})
    store.sync_feeds([(f, f"Outlet {f}", None) for f in feeds], clock.now)
    for feed, article_id, title, topic, priority, minutes in stories:
        at = clock.now + timedelta(minutes=minutes)
        article = Article(
            id=article_id,
            feed_url=feed,
            url=f"https://e.org/{article_id}",
            title=title,
            published_at=at,
        )
        for new in store.add_new_articles(feed, [article], at):
            store.add_hits(
                [Hit(new.id, "w", topic, "DEA", 100.0, f"{title} snippet", "title", priority)], at
            )
    return store.hits_between(clock.now - timedelta(days=1), clock.now + timedelta(days=1))


STORIES = [
    ("f1", "a1", "Mexico's Senate curbs DEA immunity in sweeping reform", "dea", "high", 1),
    (
        "f2",
        "a2",
        "Mexico's Senate curbs DEA immunity in sweeping reform, lawmakers say",
        "dea",
        "high",
        5,
    ),
    ("f3", "a3", "Mexico's Senate curbs DEA immunity in sweeping reform", "dea", "high", 9),
    ("f1", "a4", "DEA agents in Mexico must register contacts", "dea", "high", 30),
    ("f2", "a5", "Sheinbaum meets Salazar's successor at the palace", "people", "normal", 40),
]


def test_grouped_collapsed_and_ranked(store, clock):
    digest = build_digest(fill(store, clock, STORIES), "2026-11-20", TZ, TITLES)
    assert [t.topic for t in digest.topics] == ["dea", "people"]  # high priority first
    dea = digest.topics[0]
    assert len(dea.entries) == 2  # a1, a2, a3 are one story from three outlets
    top = dea.entries[0]
    assert set(top.sources) == {"Outlet f1", "Outlet f2", "Outlet f3"}
    # a3 repeats a1's title: the store kept one article carried by two feeds
    assert len(top.hit_ids) == 2 and set(top.article_ids) == {"a1", "a2"}
    assert dea.entries[1].title == "DEA agents in Mexico must register contacts"
    assert digest.story_count == 3 and digest.hit_count == 4


def test_renderings_agree_and_escape(store, clock):
    stories = [
        *STORIES,
        ("f3", "a6", "AT&T <-> Pemex: 5 < 6 & 7 > 2 — DEA deal", "dea", "high", 50),
    ]
    digest = build_digest(fill(store, clock, stories), "2026-11-20", TZ, TITLES)
    text = render_text(digest)
    assert text.splitlines()[0].startswith("Digest for 2026-11-20 (America/Mexico_City): 4 stories")
    assert "AT&T <-> Pemex: 5 < 6 & 7 > 2 — DEA deal" in text
    assert "3 sources" in text
    [message] = render_telegram(digest)
    assert "AT&amp;T &lt;-&gt; Pemex: 5 &lt; 6 &amp; 7 &gt; 2" in message
    page = render_html_page(digest)
    parsed = _VisibleText()
    parsed.feed(page)
    visible = " ".join(parsed.text.split())
    for story in (
        "Mexico's Senate curbs DEA immunity in sweeping reform",
        "DEA agents in Mexico",
        "Sheinbaum meets Salazar's successor",
        "AT&T <-> Pemex: 5 < 6 & 7 > 2",
    ):
        assert story in visible
    articles = {link for link in parsed.links if link.startswith("https://")}
    assert articles == {f"https://e.org/{a}" for a in ("a1", "a4", "a5", "a6")} | parsed.links & {
        "https://e.org/a2",
        "https://e.org/a3",
    }
    assert parsed.links - articles == {"index.html"}  # the archive's own link, a day alone
    assert "<script" not in page and "http" not in page.split("<style>")[1].split("</style>")[0]


def test_long_digest_is_split_on_entry_boundaries(store, clock):
    stories = [
        ("f1", f"x{i}", f"Story {i} about DEA immunity " + "word " * 60, "dea", "high", i)
        for i in range(60)
    ]
    digest = build_digest(fill(store, clock, stories), "2026-11-20", TZ, TITLES)
    parts = render_telegram(digest)
    assert len(parts) > 1
    assert all(len(p) <= TELEGRAM_LIMIT for p in parts)
    joined = "\n".join(parts)
    for i in range(60):  # every entry arrives whole, exactly once
        assert joined.count(f'href="https://e.org/x{i}"') == 1
    assert parts[0].endswith(f"(1/{len(parts)})</i>")


def test_empty_day(store, clock):
    digest = build_digest([], "2026-11-20", TZ, TITLES)
    assert render_text(digest) == "Digest for 2026-11-20: nothing matched."
    assert "Nothing matched that day" in render_html_page(digest)


def test_archive_pages_and_index(tmp_path, store, clock):
    rows = fill(store, clock, STORIES)
    write_html_archive(build_digest(rows, "2026-11-19", TZ, TITLES), tmp_path)
    write_html_archive(build_digest([], "2026-11-20", TZ, TITLES), tmp_path)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert index.index("2026-11-20.html") < index.index("2026-11-19.html")  # newest first
    assert "3 stories" in index and "0 stories" in index


class _VisibleText(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.links, self._skip = "", set(), False

    def handle_starttag(self, tag, attrs):
        self._skip = tag in ("style", "title")
        if tag == "a":
            href = dict(attrs)["href"]
            if not href.startswith("#"):  # the topic index links to anchors
                self.links.add(href)

    def handle_endtag(self, tag):
        self._skip = False

    def handle_data(self, data):
        if not self._skip:
            self.text += data + " "


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package chromium)")
def test_page_renders_in_headless_chromium(tmp_path, store, clock):
    page = write_html_archive(
        build_digest(fill(store, clock, STORIES), "2026-11-20", TZ, TITLES), tmp_path
    )
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--hide-scrollbars",
            "--window-size=420,900",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    width, height, rows = read_pixels(shot)
    assert (width, height) == (420, 900)
    background = rows[5][:3]
    inked = sum(
        1 for row in rows[::3] for x in range(0, len(row) - 3, 12) if row[x : x + 3] != background
    )
    assert inked > 300, "the screenshot is blank"
    assert len({row[x : x + 3] for row in rows[::10] for x in range(0, len(row) - 3, 30)}) > 5


# -- ranking, grouping, the page ------------------------------------------------------
def test_entries_rank_by_sources_then_priority_then_recency(store, clock):
    stories = [
        ("f1", "old-normal", "Older normal story about DEA agents abroad", "dea", "normal", 1),
        (
            "f1",
            "new-normal",
            "Newer normal story about DEA agents abroad today",
            "dea",
            "normal",
            50,
        ),
        ("f1", "high", "High priority story about DEA agent immunity", "dea", "high", 10),
        ("f1", "wide", "Widely carried story on DEA cooperation talks", "dea", "normal", 5),
        ("f2", "wide", "Widely carried story on DEA cooperation talks", "dea", "normal", 6),
    ]
    digest = build_digest(fill(store, clock, stories), "2026-11-20", TZ, TITLES)
    [topic] = digest.topics
    assert [e.article_ids[0] for e in topic.entries] == ["wide", "high", "new-normal", "old-normal"]
    assert topic.priority == "high" and topic.entries[1].priority == "high"


def test_topics_grouped_by_watchlist_high_priority_first(store, clock):
    rows = fill(store, clock, STORIES)
    other = [  # other stories (own URL and title) on another watchlist's topics
        {
            **rows[-1],
            "hit_id": 900 + i,
            "article_id": f"v{i}",
            "url": f"https://v.example/{i}",
            "title": f"Another story number {i} on the Vee watchlist",
            "watchlist": "v",
            "topic": t,
            "priority": p,
        }
        for i, (t, p) in enumerate([("calm", "normal"), ("urgent", "high")])
    ]
    digest = build_digest(rows + other, "2026-11-20", TZ, TITLES, {"w": "Security", "v": "Vee"})
    order = [(t.watchlist, t.topic) for t in digest.topics]
    assert order == [("w", "dea"), ("w", "people"), ("v", "urgent"), ("v", "calm")]
    text = render_text(digest)
    assert text.index("Security\n========") < text.index("Vee\n===") < text.index("urgent [high]")
    assert [n for n, _, _ in digest.numbered()] == list(range(1, digest.story_count + 1))


def test_page_has_every_entry_escapes_every_field_and_shows_votes(store, clock):
    nasty = 'Cartel "Jalisco" <script>alert(1)</script> & DEA'
    store.sync_feeds([("f9", "Outlet <b>&</b>", None)], clock.now)
    article = Article(
        id="n1",
        feed_url="f9",
        url='https://e.org/n1?a=1&b="2"',
        title=nasty,
        published_at=clock.now,
    )
    store.add_new_articles("f9", [article], clock.now)
    store.add_hits(
        [Hit("n1", "w", "dea", "<DEA>", 90.0, f"{nasty} snip", "title", "high")], clock.now
    )
    rows = fill(store, clock, STORIES)
    [nasty_hit] = [r["hit_id"] for r in rows if r["article_id"] == "n1"]
    first, second = (store.add_vote_target([nasty_hit], chat, clock.now) for chat in "12")
    store.record_vote(first, "1", "relevant", clock.now)
    store.record_vote(second, "2", "not_relevant", clock.now)
    store.record_vote(second, "2", "relevant", clock.now)  # a changed mind counts once
    rows = store.hits_between(clock.now - timedelta(days=1), clock.now + timedelta(days=1))
    digest = build_digest(rows, "2026-11-20", TZ, TITLES)
    page = render_html_page(digest)
    parsed = _VisibleText()
    parsed.feed(page)
    visible = " ".join(parsed.text.split())
    assert "<script" not in page.split("</style>")[1].replace("&lt;script", "")
    for number, _, entry in digest.numbered():
        assert f"{number}. {entry.title}" in visible
        assert entry.url in parsed.links
    assert nasty in visible and "Outlet <b>&</b>" in visible and "matched “<DEA>”" in visible
    assert 'https://e.org/n1?a=1&b="2"' in parsed.links
    assert "Votes: 👍 2 relevant · 👎 0 not relevant" in visible


def test_telegram_parts_number_entries_and_carry_one_button_row_each(store, clock):
    from monitor.core.config import DigestConfig
    from monitor.digests.feedback import digest_payloads, parse_vote

    stories = [
        ("f1", f"x{i}", f"Story {i} about DEA immunity " + "word " * 60, "dea", "high", i)
        for i in range(60)
    ]
    digest = build_digest(fill(store, clock, stories), "2026-11-20", TZ, TITLES)
    every_story = DigestConfig(max_per_topic=100)  # no cap: the split itself is tested here
    payloads = digest_payloads(store, digest, "424242", clock.now, every_story)
    assert len(payloads) > 1
    seen = []
    for payload in payloads:
        rows = payload["reply_markup"]["inline_keyboard"]
        numbers = [int(row[0]["text"].split(".")[0]) for row in rows]
        for number in numbers:
            assert f"<b>{number}.</b> " in payload["text"]
        for row in rows:
            assert [b["text"].split(". ", 1)[1] for b in row] == ["👍 relevant", "👎 not relevant"]
            assert all(len(b["callback_data"].encode()) <= 64 for b in row)
            assert parse_vote(row[0]["callback_data"])[0] == "relevant"
        seen += numbers
    assert seen == list(range(1, 61))
    console = digest_payloads(store, digest, "console", clock.now)
    assert len(console) == 1 and "reply_markup" not in console[0]


def _collapse_by_comparing_all(rows):
    """The rule of digest._collapse, written the slow way: each row joins the first story
    with its URL (as first seen) or with titles sharing 80% of the words."""
    from monitor.digests.build import SAME_STORY_JACCARD, _jaccard
    from monitor.text.textnorm import fold_tokens

    stories, words = [], []
    for row in sorted(rows, key=lambda r: (r["created_at"], r["hit_id"])):
        row_words = set(fold_tokens(row["title"]))
        for index, story in enumerate(stories):
            if (
                row["url"] == story[0]["url"]
                or _jaccard(row_words, words[index]) >= SAME_STORY_JACCARD
            ):
                story.append(row)
                words[index] |= row_words
                break
        else:
            stories.append([row])
            words.append(row_words)
    return [[r["hit_id"] for r in story] for story in stories]


def test_collapsing_finds_the_same_stories_as_comparing_every_pair():
    import random

    from monitor.digests.build import _collapse

    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(60)]
    bases = [rng.sample(vocabulary, rng.randint(3, 14)) for _ in range(40)]
    rows = []
    for hit_id in range(1, 1500):
        words = list(rng.choice(bases))
        for _ in range(rng.choice((0, 0, 1, 2, 3))):  # small edits: near and not near
            if rng.random() < 0.5 and len(words) > 1:
                words.pop(rng.randrange(len(words)))
            else:
                words.insert(rng.randrange(len(words) + 1), rng.choice(vocabulary))
        rows.append(
            {
                "hit_id": hit_id,
                "article_id": f"a{hit_id}",
                "created_at": f"2026-11-25T{rng.randint(0, 23):02d}:00:00",
                "title": " ".join(words),
                "url": f"https://e.org/{rng.randint(0, 600)}",
                "score": 1.0,
                "source": "S",
                "published_at": None,
                "term": "t",
                "snippet": "s",
                "priority": "normal",
            }
        )
    expected = _collapse_by_comparing_all(rows)
    assert 100 < len(expected) < 1000  # merges by URL and by title both happened
    assert [[r["hit_id"] for r in story] for story in _collapse(rows)] == expected


def test_a_title_joins_a_story_that_shares_only_its_commonest_words():
    """4 of 5 words shared is 0.8: found although the row's rarest word is in no story."""
    from monitor.digests.build import _collapse

    base = {"score": 1.0, "source": "S", "published_at": None, "term": "t", "snippet": "s"}
    rows = [
        {**base, "hit_id": 1, "article_id": "a", "url": "u1", "title": "alpha beta gamma delta"},
        {**base, "hit_id": 2, "article_id": "b", "url": "u2", "title": "alpha beta gamma delta x"},
        {**base, "hit_id": 3, "article_id": "c", "url": "u3", "title": "alpha beta x y z"},
    ]
    for row in rows:
        row.update(created_at=f"2026-11-25T0{row['hit_id']}:00:00", priority="normal")
    assert [[r["hit_id"] for r in story] for story in _collapse(rows)] == [[1, 2], [3]]


def test_the_text_digest_shows_the_votes():
    from datetime import UTC, datetime

    from monitor.digests.build import Digest, DigestEntry, DigestTopic
    from monitor.digests.render import render_text

    entry = DigestEntry(
        "Title",
        "https://e.org/1",
        ("Wire",),
        datetime(2026, 11, 20, tzinfo=UTC),
        "X",
        "s",
        (1,),
        ("a",),
        relevant=2,
        not_relevant=1,
    )
    digest = Digest("2026-11-20", "UTC", (DigestTopic("w", "t", "T", "high", (entry,)),))
    assert "votes: 👍 2 relevant · 👎 1 not relevant" in render_text(digest)


def test_a_busy_day_is_capped_per_topic_with_a_link_to_the_page(store, clock):
    """489 hits once made /digest send 50 messages with about 1,000 vote buttons."""
    from monitor.core.config import DigestConfig
    from monitor.digests.feedback import digest_payloads

    stories = [
        ("f1", f"x{i}", f"Story {i} about DEA immunity " + "word " * 20, "dea", "high", i)
        for i in range(70)
    ]
    digest = build_digest(fill(store, clock, stories), "2026-11-20", TZ, TITLES)
    settings = DigestConfig(max_per_topic=10, base_url="https://news.example/digests/")
    [payload] = digest_payloads(store, digest, "424242", clock.now, settings)
    assert len(payload["reply_markup"]["inline_keyboard"]) == 10  # buttons for what is shown
    assert "70 stories" in payload["text"]  # the header counts them all
    assert "…and 60 more stories" in payload["text"]
    assert 'href="https://news.example/digests/2026-11-20.html"' in payload["text"]
    without_page = digest_payloads(store, digest, "424242", clock.now, DigestConfig())[0]
    assert "…and 60 more stories (/recent 20 lists the latest)" in without_page["text"]
