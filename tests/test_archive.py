"""The digest archive: a page per local day, refreshed by the worker when hits or votes
arrive (Telegram on or off), and `monitor digest --date` / `monitor stats` from the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.cli.main import main
from monitor.core.models import Article, Hit
from monitor.digests.archive import refresh_archive
from monitor.digests.page import page_meta
from monitor.storage import Store

TZ = ZoneInfo("America/Mexico_City")
TITLES = {("sample", "sheinbaum"): "Claudia Sheinbaum", ("sample", "dea-immunity"): "DEA immunity"}


def add_story(store: Store, slug: str, at: datetime, topic: str = "sheinbaum") -> int:
    store.sync_feeds([("https://wire.example/rss", "Wire", None)], at)
    article = Article(
        id=slug,
        feed_url="https://wire.example/rss",
        url=f"https://wire.example/{slug}",
        title=f"Sheinbaum story {slug} on security cooperation",
        published_at=at,
    )
    store.add_new_articles(article.feed_url, [article], at)
    store.add_hits([Hit(slug, "sample", topic, "Sheinbaum", 100.0, article.title)], at)
    return store.hit_ids(slug, [("sample", topic)])[0]


def refresh(store, folder, now):
    return [p.name for p in refresh_archive(store, folder, TZ, TITLES, {}, now)]


def test_today_refreshed_on_change_yesterday_finished_older_days_kept(store, tmp_path):
    day1 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # noon in Mexico City
    add_story(store, "a1", day1)
    assert refresh(store, tmp_path, day1 + timedelta(seconds=5)) == ["2026-11-20.html"]
    assert refresh(store, tmp_path, day1 + timedelta(minutes=10)) == []  # nothing new
    hit = add_story(store, "a2", day1 + timedelta(hours=5))  # 23:00 local
    assert refresh(store, tmp_path, day1 + timedelta(hours=5, minutes=1)) == ["2026-11-20.html"]
    day2 = day1 + timedelta(days=1)
    add_story(store, "b1", day2)
    store.record_vote(store.add_vote_target([hit], "42", day2), "42", "not_relevant", day2)
    written = refresh(store, tmp_path, day2 + timedelta(minutes=1))
    assert written == ["2026-11-20.html", "2026-11-21.html"]  # yesterday picks up the vote
    yesterday = (tmp_path / "2026-11-20.html").read_text(encoding="utf-8")
    assert "story a1 " in yesterday and "story a2 " in yesterday and "👎 1" in yesterday
    assert "story b1 " not in yesterday
    day4 = day1 + timedelta(days=3)
    add_story(store, "d1", day4)
    assert refresh(store, tmp_path, day4) == ["2026-11-23.html"]  # no empty 22nd invented
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    order = [index.index(f"2026-11-{d}.html") for d in ("23", "21", "20")]
    assert order == sorted(order)  # newest first
    assert "2 stories · 2 hits" in index and "2026-11-22" not in index
    assert page_meta(tmp_path / "2026-11-23.html")["digest-date"] == "2026-11-23"


def test_poll_cycle_writes_the_page_with_telegram_on(tmp_path, config, clock):
    import asyncio
    from dataclasses import replace

    from conftest import rss
    from fakes.feed_server import FeedServer, Route

    from monitor.cli.botmode import build_telegram_runtime
    from monitor.core.config import FeedConfig
    from monitor.pipeline.cycle import poll_cycle, sync_config_feeds

    items = [{"title": "Sheinbaum visits Sonora", "link": "https://example.org/b", "guid": "b"}]
    with FeedServer() as server:
        url = server.set("/wire.xml", Route(body=rss(items)))
        config = replace(
            config,
            feeds=(FeedConfig(url=url, name="Wire"),),
            digest=replace(config.digest, html_dir=tmp_path / "pages"),
        )
        rt = build_telegram_runtime(config, "123:fake")  # never started: nothing is sent
        rt.clock = clock
        rt.sinks = [s for s in rt.sinks if s.name == "console"]
        sync_config_feeds(rt)
        asyncio.run(poll_cycle(rt))
        rt.store.close()
    page = (tmp_path / "pages" / "2026-11-20.html").read_text(encoding="utf-8")
    assert "Sheinbaum visits Sonora" in page and "Claudia Sheinbaum" in page


def write_config(tmp_path, sample_watchlists):
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "{(tmp_path / "m.db").as_posix()}"\n'
        f'[watchlists]\npath = "{sample_watchlists.as_posix()}"\n'
        '[digest]\ntimezone = "America/Mexico_City"\n',
        encoding="utf-8",
    )
    return path


def test_monitor_digest_regenerates_a_past_day(tmp_path, sample_watchlists, capsys):
    config = write_config(tmp_path, sample_watchlists)
    store = Store(tmp_path / "m.db")
    add_story(store, "old", datetime(2026, 10, 2, 17, 0, tzinfo=UTC))
    add_story(store, "late", datetime(2026, 10, 3, 5, 30, tzinfo=UTC))  # 23:30 on the 2nd, local
    add_story(store, "next", datetime(2026, 10, 3, 7, 0, tzinfo=UTC))  # 01:00 on the 3rd
    store.close()
    page = tmp_path / "out" / "day.html"
    args = ["digest", "--config", str(config), "--date", "2026-10-02", "--html", str(page)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("Digest for 2026-10-02 (America/Mexico_City): 2 stories")
    html = page.read_text(encoding="utf-8")
    assert "story old " in html and "story late " in html and "story next " not in html
    assert 'content="2026-10-02"' in html


def test_monitor_stats_shows_the_noisy_term(tmp_path, sample_watchlists, capsys):
    config = write_config(tmp_path, sample_watchlists)
    store = Store(tmp_path / "m.db")
    now = datetime.now(UTC)
    hits = [add_story(store, f"s{i}", now - timedelta(hours=i)) for i in range(4)]
    quiet = add_story(store, "q", now, topic="dea-immunity")
    for index, hit in enumerate(hits):
        vote = "not_relevant" if index < 3 else "relevant"
        store.record_vote(store.add_vote_target([hit], "42", now), "42", vote, now)
    store.record_vote(store.add_vote_target([quiet], "42", now), "42", "relevant", now)
    store.close()
    assert main(["stats", "--config", str(config), "--days", "7"]) == 0
    text = capsys.readouterr().out
    assert "Noisiest terms" in text and "75% not relevant (3 of 4 votes)" in text
    assert text.index("sample/sheinbaum") < text.index("sample/dea-immunity")
    assert main(["stats", "--config", str(config), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    first = data["topics"][0]
    assert (first["topic"], first["hits"], first["relevant"], first["not_relevant"]) == (
        "sheinbaum",
        4,
        1,
        3,
    )
    assert first["share_not_relevant"] == 0.75 and first["terms"][0]["term"] == "Sheinbaum"


def test_stats_without_a_database_is_a_user_error(tmp_path, sample_watchlists, capsys):
    config = write_config(tmp_path, sample_watchlists)
    assert main(["stats", "--config", str(config)]) == 2
    assert "no database yet" in capsys.readouterr().err


def test_noisiest_first_weighs_the_number_of_votes():
    from monitor.digests.stats import Tally, noisiness

    tallies = {
        "one vote, 100%": Tally(hits=3, voted=1, not_relevant=1),
        "6 of 10": Tally(hits=12, voted=10, relevant=4, not_relevant=6),
        "all relevant": Tally(hits=9, voted=9, relevant=9),
        "no votes": Tally(hits=50),
    }
    ranked = sorted(tallies, key=lambda name: noisiness(tallies[name]))
    assert ranked == ["6 of 10", "one vote, 100%", "all relevant", "no votes"]


def test_day_pages_link_the_index_and_the_days_before_and_after(tmp_path):
    from monitor.digests.build import Digest
    from monitor.digests.page import write_page

    for date in ("2026-11-18", "2026-11-20", "2026-11-19"):  # written out of order
        write_page(Digest(date, "UTC", ()), tmp_path)
    pages = {p.stem: p.read_text(encoding="utf-8") for p in tmp_path.glob("2026-*.html")}
    first, middle, last = (pages[d] for d in ("2026-11-18", "2026-11-19", "2026-11-20"))
    assert 'href="index.html"' in first and 'href="2026-11-19.html">2026-11-19 →' in first
    assert "←" not in first
    assert 'href="2026-11-18.html">← 2026-11-18' in middle and "2026-11-20.html" in middle
    assert 'href="2026-11-19.html">← 2026-11-19' in last and "→" not in last
