"""One story, many feeds: aggregator links, outlet suffixes and near-identical titles."""

from __future__ import annotations

import asyncio
import io

import pytest
from conftest import rss
from fakes.feed_server import FeedServer, Route
from test_worker import make_runtime

from monitor.core.models import Article, Feed, FetchResult
from monitor.feeds.parse import parse_feed
from monitor.pipeline.cycle import poll_cycle
from monitor.text.aggregators import strip_outlet_suffix, unwrap_link
from monitor.text.titles import is_near_duplicate

HEADLINE = "Mexico curbs DEA immunity for foreign agents in new security law"


def article(n: int, title: str, feed: str = "https://a.test/rss") -> Article:
    return Article(id=f"id{n}", feed_url=feed, url=f"https://{feed[8:13]}/story/{n}", title=title)


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            "https://news.google.com/rss/articles/CBMiXmh0dHBzOi8v?oc=5&hl=en-US&gl=US&ceid=US:en",
            "https://news.google.com/rss/articles/CBMiXmh0dHBzOi8v",
        ),
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://www.reuters.com/world/a&ct=ga",
            "https://www.reuters.com/world/a",
        ),
        (
            "https://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&url=https%3a%2f%2felpais.com%2fmexico%2f1.html",
            "https://elpais.com/mexico/1.html",
        ),
        (
            "https://www.reuters.com/world/a?utm_source=x",
            "https://www.reuters.com/world/a?utm_source=x",
        ),
        (
            "https://www.google.com/url?q=javascript:alert(1)",
            "https://www.google.com/url?q=javascript:alert(1)",
        ),
        (  # host case does not matter (the quick substring test included)
            "HTTPS://L.FaceBook.com/l.php?u=https%3A%2F%2Fwww.proceso.com.mx%2F1&h=AT0",
            "https://www.proceso.com.mx/1",
        ),
        ("https://r.search.yahoo.com/?RU=https%3A%2F%2Fapnews.com%2F2", "https://apnews.com/2"),
    ],
)
def test_unwrap_link(link, expected):
    assert unwrap_link(link) == expected


@pytest.mark.parametrize(
    ("title", "outlets", "expected"),
    [
        (f"{HEADLINE} - Reuters", ["Reuters"], (HEADLINE, "Reuters")),
        (f"{HEADLINE} | El Universal", [None, "el universal"], (HEADLINE, "el universal")),
        (f"{HEADLINE} - Reuters", ["AP"], (f"{HEADLINE} - Reuters", None)),
        ("Reuters", ["Reuters"], ("Reuters", None)),  # never strip a whole title
    ],
)
def test_strip_outlet_suffix(title, outlets, expected):
    assert strip_outlet_suffix(title, outlets) == expected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("mexico curb dea immunity in new law", "mexico curb dea immunity in new law update", True),
        ("senate approve dea immunity reform", "senate reject dea immunity reform", False),
        ("a b c d e f g h i j k l m", "a b c d e f g h i j k l x", True),  # 13 words, one swapped
        ("a b c d e f g h i j", "a b c d e f g h i x", False),  # 10 words, one swapped
    ],
)
def test_near_duplicate_rule(a, b, same):
    assert is_near_duplicate(frozenset(a.split()), frozenset(b.split())) is same


def test_near_identical_titles_within_48_hours_are_one_story(store, clock):
    first = store.add_new_articles("https://a.test/rss", [article(1, HEADLINE)], clock.now)
    clock.advance(hours=3)
    variants = [
        article(2, f"UPDATE: {HEADLINE}", "https://b.test/rss"),  # one word added
        article(3, HEADLINE.upper() + "!", "https://c.test/rss"),  # case and punctuation
        article(4, "Mexico curbs DEA immunity", "https://d.test/rss"),  # too different
    ]
    new = store.add_new_articles("https://b.test/rss", variants, clock.now)
    assert [a.id for a in first] == ["id1"]
    assert [a.id for a in new] == ["id4"]
    clock.advance(hours=48)
    later = store.add_new_articles(
        "https://e.test/rss", [article(5, f"UPDATE: {HEADLINE}", "https://e.test/rss")], clock.now
    )
    assert [a.id for a in later] == ["id5"]  # the window has passed: a new story


def test_near_duplicates_inside_one_batch_are_stored_once(store, clock):
    batch = [article(1, HEADLINE), article(2, f"{HEADLINE} today")]
    assert [a.id for a in store.add_new_articles("https://a.test/rss", batch, clock.now)] == ["id1"]


def test_titles_leave_the_in_memory_index_after_the_window(store, clock):
    store.add_new_articles("https://a.test/rss", [article(1, HEADLINE)], clock.now)
    assert len(store._recent_titles(clock.now)) == 1
    clock.advance(hours=49)
    store.prune_title_index(clock.now)
    assert len(store._recent_titles(clock.now)) == 0  # memory stays bounded by the window


def test_titles_stored_by_another_process_are_seen(store, clock):
    from monitor.storage import Store

    def add(db, n, title, feed):
        with db.transaction():
            return db.add_new_articles(feed, [article(n, title, feed)], clock.now)

    other = Store(store.path)  # `monitor poll --once` next to a running `monitor run`
    try:
        add(store, 9, "Something else entirely here today", "https://a.test/rss")
        add(other, 1, HEADLINE, "https://b.test/rss")
        again = add(store, 2, f"UPDATE: {HEADLINE}", "https://c.test/rss")
    finally:
        other.close()
    assert again == []


GOOGLE_NEWS_ITEM = (
    "<item><title>{title} - Reuters</title>"
    "<link>https://news.google.com/rss/articles/CBMiXmh0dHBzOi8v?oc=5</link>"
    '<guid isPermaLink="false">CBMiXmh0dHBzOi8v</guid>'
    '<source url="https://www.reuters.com">Reuters</source></item>'
)


def google_news(title: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>"DEA" - Google News</title>'
        + GOOGLE_NEWS_ITEM.format(title=title)
        + "</channel></rss>"
    ).encode()


def test_google_news_item_is_read_as_the_outlets_story(clock):
    feed = Feed("https://news.google.com/rss/search?q=DEA", name="Google News: DEA")
    parsed = parse_feed(FetchResult(feed, 200, google_news(HEADLINE)), clock.now)
    [item] = parsed.articles
    assert (item.title, item.source) == (HEADLINE, "Reuters")
    assert item.url == "https://news.google.com/rss/articles/CBMiXmh0dHBzOi8v"


def test_google_news_item_and_the_outlets_own_item_are_one_article(config, clock):
    out = io.StringIO()
    with FeedServer() as server:
        gn1 = server.set("/gn1.xml", Route(body=google_news(HEADLINE)))
        gn2 = server.set("/gn2.xml", Route(body=google_news(HEADLINE)))
        reuters = server.set(
            "/reuters.xml",
            Route(
                body=rss(
                    [{"title": f"{HEADLINE} today", "link": "https://www.reuters.com/world/a"}],
                    title="Reuters",
                )
            ),
        )
        rt = make_runtime(config, clock, [gn1, gn2, reuters], out)
        report = asyncio.run(poll_cycle(rt))
    assert report.articles_new == 1 and report.alerts_queued == 1
    [stored] = rt.store.articles_since(clock.now)
    assert stored.title in (HEADLINE, f"{HEADLINE} today")  # whichever copy arrived first
    assert {row["url"]: row["articles"] for row in rt.store.feed_rows()} == {
        gn1: 1,
        gn2: 1,
        reuters: 1,
    }
    assert out.getvalue().count("ALERT") == 1
