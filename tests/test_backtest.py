"""`monitor backtest`: a changed watchlist against the articles already stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import run_monitor

from monitor.core.models import Article
from monitor.matching.backtest import CHANGED, NEW, REMOVED, SAME, render_backtest, run_backtest
from monitor.matching.watchlists import check_watchlists
from monitor.storage import Store

CURRENT = """\
[watchlist]
id = "sec"
title = "Security"

[[topics]]
id = "dea"
title = "DEA immunity"
terms = ["DEA immunity"]

[[topics]]
id = "sheinbaum"
title = "Claudia Sheinbaum"
terms = ["Sheinbaum"]

[[topics]]
id = "merida"
title = "Mérida Initiative"
terms = ["Mérida Initiative"]
"""

# dea: adds a term; sheinbaum: same terms, moved down a line; merida: removed;
# goalkeeper: new.
CANDIDATE = """\
[watchlist]
id = "sec"
title = "Security"

[[topics]]
id = "dea"
title = "DEA immunity"
terms = ["DEA immunity", "foreign agents"]
exclude = ["FARA"]


[[topics]]
id = "sheinbaum"
title = "Claudia Sheinbaum"
terms = ["Sheinbaum"]

[[topics]]
id = "goalkeeper"
title = "The goalkeeper project"
terms = ["goalkeeper project"]
"""

OTHER = """\
[watchlist]
id = "other"
title = "Other"

[[topics]]
id = "salazar"
terms = ["Ken Salazar"]
"""

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def article(id_: str, title: str, day: int, summary: str = "") -> Article:
    return Article(
        id=id_,
        feed_url="https://example.org/feed",
        url=f"https://example.org/{id_}",
        title=title,
        summary=summary,
        published_at=datetime(2026, 11, day, 12, 0, tzinfo=UTC),
        source="Wire",
    )


ARTICLES = [
    article("a1", "Mexico curbs DEA immunity", 18),
    article("a2", "Congress debates rules for foreign agents", 17),
    article("a3", "FARA filings by foreign agents rise", 16),  # vetoed by the new exclude
    article("a4", "Sheinbaum visits Sonora", 15),
    article("a5", "Twenty years of the Mérida Initiative", 14),
    article("a6", "Inside the goalkeeper project", 13),
    article("a7", "Ken Salazar speaks", 12),
    article("a8", "DEA immunity, foreign agents and the new law", 11),
]


def watchlists(tmp_path: Path, name: str, *sources: str):
    folder = tmp_path / name
    folder.mkdir()
    for number, source in enumerate(sources):
        (folder / f"{number}.toml").write_text(source, encoding="utf-8")
    report = check_watchlists(folder)
    assert report.ok, report.errors
    return report.watchlists


def stored_articles(tmp_path: Path, articles, now: datetime) -> Store:
    store = Store(tmp_path / "monitor.db")
    store.add_new_articles("https://example.org/feed", articles, now)
    return store


def ids(rows) -> list[str]:
    return [r.article_id for r in rows]


def test_each_topic_says_what_is_caught_by_both_gained_and_lost(tmp_path):
    store = stored_articles(tmp_path, ARTICLES, NOW)
    current = watchlists(tmp_path, "current", CURRENT, OTHER)
    candidate = watchlists(tmp_path, "candidate", CANDIDATE)
    since = NOW - timedelta(days=30)
    report = run_backtest(store.articles_since(since), current, candidate, since)

    assert report.articles == 8
    assert report.replaced == ("sec",) and report.added == ()
    topics = {t.topic: t for t in report.topics}
    assert list(topics) == ["dea", "sheinbaum", "goalkeeper", "merida"]  # removed ones last
    assert "salazar" not in topics  # a watchlist the candidate does not touch

    dea = topics["dea"]
    assert dea.status == CHANGED
    assert ids(dea.both) == ["a1", "a8"]
    assert ids(dea.gained) == ["a2"]  # a3 is vetoed by exclude "FARA"
    assert dea.lost == ()
    assert dea.gained[0].term == "foreign agents" and dea.gained[0].source == "Wire"

    assert topics["sheinbaum"].status == SAME  # only its line moved
    assert ids(topics["sheinbaum"].both) == ["a4"]
    assert (topics["goalkeeper"].status, ids(topics["goalkeeper"].gained)) == (NEW, ["a6"])
    assert (topics["merida"].status, ids(topics["merida"].lost)) == (REMOVED, ["a5"])
    assert (report.gained, report.lost, report.both) == (2, 1, 3)


def test_term_change_for_an_article_caught_by_both_is_shown(tmp_path):
    current = watchlists(tmp_path, "current", CURRENT)
    changed = CURRENT.replace('terms = ["DEA immunity"]', 'terms = ["DEA"]')
    candidate = watchlists(tmp_path, "candidate", changed)
    report = run_backtest([ARTICLES[0]], current, candidate, NOW)
    dea = next(t for t in report.topics if t.topic == "dea")
    assert (dea.both[0].term, dea.both[0].was) == ("DEA", "DEA immunity")


def test_a_new_watchlist_id_is_all_gained(tmp_path):
    current = watchlists(tmp_path, "current", CURRENT)
    candidate = watchlists(tmp_path, "candidate", OTHER)
    report = run_backtest(ARTICLES, current, candidate, NOW)
    assert report.added == ("other",) and report.replaced == ()
    assert [(t.topic, t.status, ids(t.gained)) for t in report.topics] == [("salazar", NEW, ["a7"])]


def test_only_articles_stored_in_the_window_count(tmp_path):
    store = stored_articles(tmp_path, ARTICLES[:1], NOW - timedelta(days=40))
    store.add_new_articles("https://example.org/feed", ARTICLES[1:2], NOW - timedelta(days=2))
    current = watchlists(tmp_path, "current", CURRENT)
    candidate = watchlists(tmp_path, "candidate", CANDIDATE)
    since = NOW - timedelta(days=30)
    report = run_backtest(store.articles_since(since), current, candidate, since)
    assert report.articles == 1
    assert [ids(t.gained) for t in report.topics if t.topic == "dea"] == [["a2"]]


def test_render_lists_changes_and_summarises_the_rest(tmp_path):
    current = watchlists(tmp_path, "current", CURRENT)
    candidate = watchlists(tmp_path, "candidate", CANDIDATE)
    report = run_backtest(ARTICLES, current, candidate, NOW - timedelta(days=30))
    text = render_backtest(report, ZoneInfo("UTC"), 30, limit=1)
    assert text.startswith("Backtest over 8 articles stored since 2026-10-21 15:00 (30 days).")
    assert "sec / dea — DEA immunity [changed]" in text
    assert "  caught by both: 2   newly caught: 1   no longer caught: 0" in text
    assert "  + 2026-11-17  Wire: Congress debates rules for foreign agents" in text
    assert "      term: foreign agents   https://example.org/a2" in text
    assert "  - 2026-11-14  Wire: Twenty years of the Mérida Initiative" in text
    assert "      was caught by: Mérida Initiative" in text
    assert "Unchanged: sheinbaum (1 caught by both)" in text
    assert text.endswith("Total: 2 newly caught, 1 no longer caught, 3 caught by both.")
    both = render_backtest(report, ZoneInfo("UTC"), 30, limit=1, show_both=True)
    assert "  = 2026-11-18  Wire: Mexico curbs DEA immunity" in both
    assert "  = … and 1 more (--limit 0 shows all)" in both


# -- the command line ----------------------------------------------------------------


def cli_setup(tmp_path: Path) -> Path:
    (tmp_path / "live").mkdir()
    (tmp_path / "live" / "sec.toml").write_text(CURRENT, encoding="utf-8")
    (tmp_path / "draft.toml").write_text(CANDIDATE, encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[storage]\npath = "monitor.db"\n[watchlists]\npath = "live"\n[digest]\ntimezone = "UTC"\n',
        encoding="utf-8",
    )
    return tmp_path / "config.toml"


def test_cli_backtest_prints_the_comparison(tmp_path):
    cli_setup(tmp_path)
    stored_articles(tmp_path, ARTICLES, datetime.now(UTC)).close()
    result = run_monitor("backtest", "draft.toml", "--days", "7", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(7 days)" in result.stdout
    assert "Total: 2 newly caught, 1 no longer caught, 3 caught by both." in result.stdout


def test_cli_backtest_of_the_live_file_warns_that_nothing_differs(tmp_path):
    cli_setup(tmp_path)
    stored_articles(tmp_path, ARTICLES, datetime.now(UTC)).close()
    result = run_monitor("backtest", "live/sec.toml", cwd=tmp_path)
    assert result.returncode == 0
    assert "is part of the current watchlists" in result.stderr
    against = run_monitor("backtest", "live/sec.toml", "--against", "draft.toml", cwd=tmp_path)
    assert "Total: 1 newly caught, 2 no longer caught, 3 caught by both." in against.stdout


def test_cli_backtest_bad_watchlist_exits_2_with_its_errors(tmp_path):
    cli_setup(tmp_path)
    stored_articles(tmp_path, ARTICLES, datetime.now(UTC)).close()
    (tmp_path / "draft.toml").write_text(CANDIDATE + "fuzzy = 101\n", encoding="utf-8")
    result = run_monitor("backtest", "draft.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("draft.toml:21: topic 'goalkeeper': fuzzy must be")
    assert result.stdout == ""


def test_cli_backtest_without_a_database_or_with_bad_days_exits_2(tmp_path):
    cli_setup(tmp_path)
    no_db = run_monitor("backtest", "draft.toml", cwd=tmp_path)
    assert no_db.returncode == 2 and "no database yet" in no_db.stderr
    assert not (tmp_path / "monitor.db").exists()  # not created empty
    bad_days = run_monitor("backtest", "draft.toml", "--days", "0", cwd=tmp_path)
    assert bad_days.returncode == 2 and "--days" in bad_days.stderr


def test_identical_watchlists_change_nothing(tmp_path):
    current = watchlists(tmp_path, "current", CURRENT)
    report = run_backtest(ARTICLES, current, current, NOW)
    assert {t.status for t in report.topics} == {SAME}
    assert (report.gained, report.lost, report.both) == (0, 0, 4)  # a1, a8, a4, a5
