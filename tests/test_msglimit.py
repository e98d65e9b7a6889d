"""Every message the bot sends fits Telegram's limit and stays valid HTML, whatever the
article says (issue 12, finding 9): property-based, with Hypothesis.

The inputs mix what broke or could break a message: astral emoji (two UTF-16
units each), markup and entity look-alikes (`<b>`, `&amp;`, `&#128512;`),
quotes, combining marks, right-to-left text, and lengths far over the limit.
"Valid" is what the fake Bot API's parser (the same rules as Telegram's,
stricter on `&`) accepts; "fits" is its visible text, in UTF-16 units.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fakes.bot_api import parse_telegram_html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.bot.replies import marked_html, pack, recent_texts, search_texts
from monitor.core.models import Article, Hit
from monitor.delivery.msglimit import TELEGRAM_LIMIT, clip_html, cut_text, utf16_len, visible_length
from monitor.delivery.render import alert_payload, render_alert_html, render_surge_html
from monitor.digests.build import Digest, DigestEntry, DigestTopic
from monitor.digests.render import render_telegram_parts
from monitor.pipeline.chats import ChatSettings
from monitor.storage import SNIPPET_CLOSE, SNIPPET_OPEN

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
PIECES = [
    "DEA", " ", "immunity", "x", "ñ", "é", "e\u0301", "😀", "🇲🇽", "👩‍👩‍👧", "𝔸", "中",
    "<", ">", "&", '"', "'", "<b>", "</a>", "&amp;", "&#128512;", "&lt;", "\n", "\t",
    "\u202e", "\u200b", SNIPPET_OPEN, SNIPPET_CLOSE, "https://e.org/?a=1&b=2", "…",
]  # fmt: skip
piece_text = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
long_text = st.tuples(piece_text, st.integers(0, 700)).map(lambda t: t[0] * t[1])
field = st.one_of(piece_text, long_text, st.text(max_size=200))
url = st.one_of(
    st.just("https://example.org/story?a=1&b=2"),
    field,
    field.map(lambda s: "https://e.org/" + s),
)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_sendable(text: str) -> str:
    """Telegram would take it: it parses, its visible text fits, and it links only to
    http(s) (finding 5)."""
    plain, entities = parse_telegram_html(text)  # raises on invalid HTML
    assert utf16_len(plain) <= TELEGRAM_LIMIT
    links = [e["url"] for e in entities if e["type"] == "text_link"]
    assert all(u.lower().startswith(("http://", "https://")) for u in links), links
    assert visible_length(text) == utf16_len(plain)  # our measure is Telegram's
    return plain


@PROPERTY
@given(title=field, summary=field, link=url, source=field, term=field, n_hits=st.integers(1, 12))
def test_any_alert_fits_and_parses(title, summary, link, source, term, n_hits):
    article = Article("a1", "https://f.org/rss", link, title, summary, NOW, source=source)
    hits = [
        Hit("a1", "w", f"t{i}", term, 90.0, summary or title, "summary", "high")
        for i in range(n_hits)
    ]
    payload = alert_payload(article, hits, {("w", f"t{i}"): title for i in range(n_hits)})
    plain = assert_sendable(render_alert_html(payload, UTC_ZONE))
    assert plain.startswith("🔔")


@PROPERTY
@given(title=field, snippet=field, link=url, term=field, outlets=st.lists(field, max_size=30))
def test_any_surge_fits_and_parses(title, snippet, link, term, outlets):
    row = {"title": title, "url": link, "published_at": None, "watchlist": "w", "topic": "t"}
    row |= {"term": term, "snippet": snippet}
    assert_sendable(render_surge_html([row, row], outlets, {("w", "t"): title}, UTC_ZONE))


@PROPERTY
@given(
    entries=st.lists(st.tuples(field, field, url, field), min_size=1, max_size=25),
    topic_title=field,
    more=st.integers(0, 3),
)
def test_any_digest_splits_into_parts_that_fit_and_parse(entries, topic_title, more):
    digest_entries = tuple(
        DigestEntry(
            title=title,
            url=link,
            sources=(source, source),
            published_at=NOW,
            term="DEA",
            snippet=snippet,
            hit_ids=(i,),
            article_ids=(f"a{i}",),
            also_in=(topic_title,),
        )
        for i, (title, snippet, link, source) in enumerate(entries)
    )
    topic = DigestTopic("w", "t", topic_title, "high", digest_entries, topic_title, more)
    parts = render_telegram_parts(Digest("2026-11-20", "UTC", (topic,), NOW), "https://e.org/d")
    numbered = [number for part in parts for number, _ in part.entries]
    assert numbered == list(range(1, len(entries) + 1))  # every entry, once, in order
    for part in parts:
        assert_sendable(part.text)


@PROPERTY
@given(rows=st.lists(st.tuples(field, field, url, field), min_size=1, max_size=30), query=field)
def test_any_search_or_recent_reply_fits_and_parses(rows, query):
    chat = ChatSettings("1", "UTC", "07:30", None, ())
    found = [
        {"article_id": f"a{i}", "title": t, "snippet": s, "url": u, "source": src}
        | {"published_at": None, "topic": "t", "term": "DEA"}
        for i, (t, s, u, src) in enumerate(rows)
    ]
    for text in search_texts(query, found, chat, corrected=query) + recent_texts(found, chat):
        assert_sendable(text)


@given(text=field, limit=st.integers(2, 5000))
def test_cut_text_keeps_to_the_limit_and_says_where_it_cut(text, limit):
    cut = cut_text(text, limit)
    assert utf16_len(cut) <= limit
    assert cut == text or (cut.endswith("…") and text.startswith(cut[:-1]))


@PROPERTY
@given(blocks=st.lists(field, min_size=1, max_size=10), limit=st.integers(50, TELEGRAM_LIMIT))
def test_clip_and_pack_keep_html_valid(blocks, limit):
    html_blocks = [f"<b>{marked_html(b)}</b> <i>x</i>" for b in blocks]
    for text in pack(html_blocks, limit) + [clip_html("\n".join(html_blocks), limit)]:
        plain, _ = parse_telegram_html(text)
        assert utf16_len(plain) <= limit


@pytest.mark.parametrize(
    ("raw", "visible"),
    [("<b>a&amp;b</b>", 3), ("😀", 2), ('<a href="x&amp;y">t</a>', 1), ("&#128512;", 2)],
)
def test_visible_length_counts_as_telegram_does(raw, visible):
    assert visible_length(raw) == visible


MEXICO, USA = "🇲🇽", "🇺🇸"  # each two regional indicators
FAMILY = "👩\u200d👩\u200d👧"  # three emoji joined by U+200D
PIECES = [MEXICO, USA, FAMILY, "👍🏽", "é", "e\u0301", "❤\ufe0f", "a", " ", "ñ", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]


@pytest.mark.parametrize("limit", range(2, 14))
def test_a_cut_never_splits_a_flag_an_emoji_sequence_or_an_accent(limit):
    text = "".join([MEXICO, FAMILY, "e\u0301", USA, "👍🏽", MEXICO] * 3)
    cut = cut_text(text, limit)
    kept = cut.removesuffix("…")
    assert utf16_len(cut) <= limit and text.startswith(kept)
    boundaries = {0}
    for piece in [MEXICO, FAMILY, "e\u0301", USA, "👍🏽", MEXICO] * 3:
        boundaries.add(max(boundaries) + len(piece))
    assert len(kept) in boundaries, (limit, kept)


@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=40), st.integers(2, 60))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_cut_ends_between_whole_characters(pieces, limit):
    text = "".join(pieces)
    kept = cut_text(text, limit).removesuffix("…")
    ends = {sum(len(p) for p in pieces[:n]) for n in range(len(pieces) + 1)}
    assert len(kept.rstrip()) in ends or len(kept) in ends
