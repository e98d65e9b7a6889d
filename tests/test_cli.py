"""The command-line contract of DESIGN.md, run as a user runs it (subprocesses)."""

from __future__ import annotations

import json

from conftest import ROOT, SHIPPED_WATCHLISTS, prime_database, run_monitor


def test_match_reads_json_lines_and_writes_only_json_lines(tmp_path):
    lines = [
        {"id": "1", "title": "Sheinbaum rechaza operaciones unilaterales", "summary": ""},
        {"id": "2", "title": "Weather in Mérida", "summary": "Sunny all week in Yucatán."},
        {
            "id": "3",
            "title": "DEA's agents lose immunity in Mexico",
            "summary": "",
            "content": "The law on foreign agents.",
        },
    ]
    result = run_monitor(
        "match",
        "--watchlists",
        str(SHIPPED_WATCHLISTS),
        "--input",
        "-",
        cwd=tmp_path,
        stdin="\n".join(json.dumps(x) for x in lines),
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["1", "2", "3"]
    assert out[1]["hits"] == []
    topics = {h["topic"] for h in out[0]["hits"]}
    assert "claudia-sheinbaum" in topics
    hit = out[2]["hits"][0]
    assert set(hit) == {"watchlist", "topic", "term", "score", "snippet"}
    assert any(h["topic"] == "dea-immunity" for h in out[2]["hits"])


def test_match_reports_bad_lines_by_number_and_exits_2(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "1", "title": "ok"}\nnot json\n{"title": "no id"}\n', encoding="utf-8"
    )
    result = run_monitor(
        "match", "--watchlists", str(SHIPPED_WATCHLISTS), "--input", str(source), cwd=tmp_path
    )
    assert result.returncode == 2
    assert len(result.stdout.splitlines()) == 1  # the good line still answered
    assert f"{source}:2: not JSON" in result.stderr
    assert f"{source}:3:" in result.stderr


def test_match_with_broken_watchlist_exits_2_with_file_and_line(tmp_path):
    broken = tmp_path / "bad.toml"
    broken.write_text('[watchlist]\nid = "x"\n[[topics]]\nid = "t"\nterms = ["ok"]\nfuzy = 80\n')
    result = run_monitor(
        "match", "--watchlists", str(broken), "--input", "-", cwd=tmp_path, stdin=""
    )
    assert result.returncode == 2
    assert f"{broken}:6:" in result.stderr and "fuzy" in result.stderr
    assert "Traceback" not in result.stderr


def test_watchlists_check_ok_for_shipped_watchlists(tmp_path):
    result = run_monitor("watchlists", "check", str(SHIPPED_WATCHLISTS), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok: 2 watchlists" in result.stdout


def test_unknown_command_is_exit_2(tmp_path):
    result = run_monitor("frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_demo_runs_offline_and_prints_alerts_and_digest(tmp_path):
    keep = tmp_path / "demo"
    result = run_monitor(
        "demo", "--watchlists", str(SHIPPED_WATCHLISTS), "--keep", str(keep), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    before_news = out.split("never instant alerts)", 1)[0]
    assert "alerts_queued=0" in before_news and "ALERT " not in before_news  # a backlog
    assert out.count("ALERT ") == 3  # the high-priority stories published later
    assert "Digest for" in out and "nothing matched" not in out
    assert "Third cycle (conditional GET): feeds_ok=3" in out and "not_modified=3" in out
    assert out.count("📈 Surge:") == 1  # the Bicentennial talks, in all three demo feeds
    assert "AT&T <-> Pemex" not in out.split("Digest for")[0]  # a non-matching story: no alert
    pages = list((keep / "digests").glob("????-??-??.html"))
    assert len(pages) == 1 and (keep / "digests" / "index.html").exists()
    again = tmp_path / "again.html"
    date = pages[0].stem
    rendered = run_monitor(
        "digest",
        "--config",
        str(keep / "config.toml"),
        "--date",
        date,
        "--html",
        str(again),
        cwd=tmp_path,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert again.read_text(encoding="utf-8").count("<article") == pages[0].read_text(
        encoding="utf-8"
    ).count("<article")


def test_demo_prints_the_same_every_time(tmp_path):
    """Two `make demo` runs once printed different times and orders (issue 16, item 3)."""
    runs = [
        run_monitor("demo", "--watchlists", str(SHIPPED_WATCHLISTS), cwd=tmp_path).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and "ALERT " in runs[0]


def test_poll_digest_and_status_on_a_file_feed(tmp_path):
    feed = (ROOT / "monitor" / "cli" / "demo_feeds" / "wire-en.xml").as_uri()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "monitor.db"\n[watchlists]\npath = "{SHIPPED_WATCHLISTS.as_posix()}"\n'
        "[poll]\nalert_max_age_hours = 0\n"  # the demo items are weeks old: news all the same
        f'[digest]\ntimezone = "UTC"\n[[feeds]]\nurl = "{feed}"\nname = "Wire"\n',
        encoding="utf-8",
    )
    prime_database(tmp_path / "monitor.db", [feed])  # fetched before: not a first backlog
    before = run_monitor("status", "--config", str(config), "--check", cwd=tmp_path)
    assert before.returncode == 1 and "no poll cycle has finished yet" in before.stdout
    poll = run_monitor("poll", "--once", "--config", str(config), cwd=tmp_path)
    assert poll.returncode == 0, poll.stderr
    assert "ALERT" in poll.stdout and "articles_new=8" in poll.stderr
    status = run_monitor("status", "--config", str(config), "--json", "--check", cwd=tmp_path)
    assert status.returncode == 0, status.stdout
    data = json.loads(status.stdout)
    assert data["healthy"] and data["feeds_ok"] == 1 and data["hits_today"] >= 3
    page = tmp_path / "day.html"
    digest = run_monitor("digest", "--config", str(config), "--html", str(page), cwd=tmp_path)
    assert digest.returncode == 0, digest.stderr
    assert "Immunity of DEA" in digest.stdout
    assert "<!doctype html>" in page.read_text(encoding="utf-8")
    bad_date = run_monitor("digest", "--config", str(config), "--date", "2026-13-01", cwd=tmp_path)
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr
