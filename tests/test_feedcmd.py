"""`monitor feeds`: list, add, remove, import, export; OPML in and out, safely."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import rss
from fakes.feed_server import FeedServer, Route

from monitor.cli.main import main
from monitor.core.errors import UserError
from monitor.feeds.opml import read_opml, write_opml

ITEMS = [{"title": f"Border security story {i}", "link": f"https://e.org/{i}"} for i in range(4)]

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Mexico">
      <outline text="Politics">
        <outline type="rss" text="La Jornada" xmlUrl="https://www.jornada.com.mx/rss/politica.xml"
                 language="es"/>
      </outline>
      <outline type="rss" title="El Universal" text="ignored" xmlurl="https://u.test/rss"/>
    </outline>
    <outline type="rss" text="InSight Crime" xmlUrl="https://insightcrime.org/feed/"/>
    <outline type="rss" text="Bad" xmlUrl="javascript:alert(1)"/>
    <outline text="Just a folder"/>
  </body>
</opml>
"""


def test_read_opml_flattens_folders_and_keeps_titles_and_lines():
    feeds = read_opml(OPML, "subs.opml")
    assert [(f.url, f.title, f.lang, f.folder) for f in feeds] == [
        ("https://www.jornada.com.mx/rss/politica.xml", "La Jornada", "es", "Mexico / Politics"),
        ("https://u.test/rss", "El Universal", None, "Mexico"),
        ("https://insightcrime.org/feed/", "InSight Crime", None, None),
        ("javascript:alert(1)", "Bad", None, None),
    ]
    assert feeds[0].line == 7


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<opml><body><outline text='x'></body></opml>", "subs.opml:1: not well-formed XML"),
        (b"<rss><channel/></rss>", "subs.opml:1: not OPML: the root element is <rss>"),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY a "aaaa">\n]>\n<opml/>',
            "subs.opml:2: DTDs and entity declarations are not accepted",
        ),
        (
            b'<!DOCTYPE opml SYSTEM "file:///etc/passwd"><opml/>',
            "subs.opml:1: DTDs and entity declarations are not accepted",
        ),
        (b"<opml><body><outline text='&nbsp;'/></body></opml>", "undefined entity"),
    ],
)
def test_malformed_or_hostile_opml_is_refused_with_file_and_line(data, message):
    with pytest.raises(UserError) as caught:
        read_opml(data, "subs.opml")
    assert message in caught.value.message


def test_write_opml_round_trips():
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    feeds = [("https://a.test/rss?x=1&y=2", "A & B <news>", "es"), ("https://b.test/", None, None)]
    text = write_opml(feeds, "news-monitor feeds", now)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert "<dateCreated>Fri, 20 Nov 2026 15:00:00 GMT</dateCreated>" in text
    back = read_opml(text.encode(), "export.opml")
    assert [(f.url, f.title, f.lang) for f in back] == [
        ("https://a.test/rss?x=1&y=2", "A & B <news>", "es"),
        ("https://b.test/", "https://b.test/", None),
    ]


@pytest.fixture
def workdir(tmp_path, sample_watchlists, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_config(folder: Path, feeds: list[tuple[str, str]]) -> Path:
    lines = [
        '[storage]\npath = "monitor.db"',
        f'[watchlists]\npath = "{(folder / "watchlists").as_posix()}"',
        "[poll]\ntimeout_seconds = 2",
    ]
    lines += [f'[[feeds]]\nurl = "{url}"\nname = "{name}"' for url, name in feeds]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_feeds_list_merges_config_and_added_feeds_with_their_state(workdir, capsys):
    with FeedServer() as server:
        good = server.set("/good.xml", Route(body=rss(ITEMS, title="Good Feed")))
        bad = server.set("/bad.xml", Route(status=503, headers={"Retry-After": "3600"}))
        config = write_config(workdir, [(good, "Good")])
        code, out, _ = run(capsys, "feeds", "add", bad, "--force", "--config", str(config))
        assert code == 0 and "added" in out
        assert run(capsys, "poll", "--once", "--config", str(config))[0] == 0
        code, out, _ = run(capsys, "feeds", "--config", str(config))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["STATUS", "FAILS", "LAST", "OK", "NEXT"]
    assert lines[1].startswith("backoff") and bad in lines[1] and "[added]" in lines[1]
    assert "HTTP 503 Service Unavailable" in lines[1] and "in 59m" in lines[1]
    assert re.match(rf"ok +0 +\d+s ago +next cycle +4 +Good <{re.escape(good)}>$", lines[2])
    assert lines[-1] == "2 feeds: 1 backoff, 1 ok"


def test_feeds_list_json(workdir, capsys):
    with FeedServer() as server:
        good = server.set("/good.xml", Route(body=rss(ITEMS)))
        config = write_config(workdir, [(good, "Good")])
        run(capsys, "poll", "--once", "--config", str(config))
        code, out, _ = run(capsys, "feeds", "list", "--json", "--config", str(config))
    [row] = json.loads(out)
    assert code == 0
    assert (row["url"], row["status"], row["articles"], row["failures"]) == (good, "ok", 4, 0)
    assert row["last_ok_at"] and row["source"] == "config" and row["last_error"] is None


def test_feeds_add_fetches_once_and_reports_what_it_found(workdir, capsys):
    with FeedServer() as server:
        url = server.set("/wire.xml", Route(body=rss(ITEMS, title="The Wire")))
        config = write_config(workdir, [])
        code, out, _ = run(capsys, "feeds", "--config", str(config), "add", url, "--lang", "es")
        assert server.hits("/wire.xml") == 1
        again = run(capsys, "feeds", "add", url, "--config", str(config))
    assert code == 0
    assert out.splitlines()[:2] == ["found The Wire: 4 entries", "  - Border security story 0"]
    assert again[0] == 0 and again[1].startswith("already polled (added)")


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(status=404), "HTTP 404 Not Found"),
        (Route(body=b"<html><body>hi</body></html>", content_type="text/html"), "HTML page"),
        (Route(body=b""), "empty response"),
    ],
)
def test_feeds_add_refuses_an_unusable_feed_with_exit_2(workdir, capsys, route, message):
    with FeedServer() as server:
        url = server.set("/x.xml", route)
        config = write_config(workdir, [])
        code, out, err = run(capsys, "feeds", "add", url, "--config", str(config))
        listed = run(capsys, "feeds", "--json", "--config", str(config))[1]
    assert code == 2 and message in err and "--force adds it anyway" in err
    assert json.loads(listed) == []


def test_feeds_add_refuses_a_non_feed_url(workdir, capsys):
    config = write_config(workdir, [])
    code, _, err = run(capsys, "feeds", "add", "ftp://example.org/rss", "--config", str(config))
    assert code == 2 and "ftp://example.org/rss: not a feed URL" in err


def test_feeds_remove_added_feed_but_not_a_config_feed(workdir, capsys):
    with FeedServer() as server:
        kept = server.set("/kept.xml", Route(body=rss(ITEMS)))
        added = server.set("/added.xml", Route(body=rss(ITEMS)))
        config = write_config(workdir, [(kept, "Kept")])
        run(capsys, "feeds", "add", added, "--config", str(config))
    code, out, _ = run(capsys, "feeds", "remove", added, "--config", str(config))
    assert code == 0 and out.startswith(f"removed {added}")
    code, _, err = run(capsys, "feeds", "remove", kept, "--config", str(config))
    assert code == 2 and "listed in" in err and "config.toml; remove it there" in err
    code, _, err = run(capsys, "feeds", "remove", "https://nowhere.test/", "--config", str(config))
    assert code == 2 and "not a feed being polled" in err
    rows = json.loads(run(capsys, "feeds", "--json", "--all", "--config", str(config))[1])
    assert {r["url"]: r["status"] for r in rows} == {kept: "new", added: "removed"}


def public_feed_server() -> FeedServer:
    """127.0.0.2 plays a public outlet: the configs below call only 127.0.0.1 internal."""
    try:
        return FeedServer(host="127.0.0.2").start()
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address on this system")


def import_config(workdir: Path, feeds: list[tuple[str, str]]) -> Path:
    config = write_config(workdir, feeds)
    text = config.read_text(encoding="utf-8").replace(
        "[poll]\n", '[poll]\ninternal_networks = ["127.0.0.1/32", "::1/128"]\n'
    )
    config.write_text(text, encoding="utf-8")
    return config


def local_opml(server: FeedServer, broken: bool = False) -> bytes:
    jornada = server.set("/rss/politica.xml", Route(body=rss(ITEMS)))
    universal = server.set("/rss", Route(status=404) if broken else Route(body=rss(ITEMS)))
    insight = server.set("/feed/", Route(body=rss(ITEMS)))
    return (
        OPML.replace(b"https://www.jornada.com.mx/rss/politica.xml", jornada.encode())
        .replace(b"https://u.test/rss", universal.encode())
        .replace(b"https://insightcrime.org/feed/", insight.encode())
    )


def test_feeds_import_and_export(workdir, capsys):
    server = public_feed_server()
    try:
        opml = local_opml(server)
        insight, jornada, universal = (
            server.url(p) for p in ("/feed/", "/rss/politica.xml", "/rss")
        )
        config = import_config(workdir, [(insight, "InSight Crime")])
        (workdir / "subs.opml").write_bytes(opml)
        code, out, err = run(capsys, "feeds", "import", "subs.opml", "--config", str(config))
        assert code == 0, err
        assert out.strip() == "imported 2 new feeds from subs.opml (1 already polled, 1 skipped)"
        assert "subs.opml:13: skipped, not a feed URL: javascript:alert(1)" in err
        again = run(capsys, "feeds", "import", "subs.opml", "--config", str(config))[1]
        assert again.startswith("imported 0 new feeds")
    finally:
        server.stop()
    code, _, err = run(capsys, "feeds", "export", "-o", "out.opml", "--config", str(config))
    exported = read_opml((workdir / "out.opml").read_bytes(), "out.opml")
    assert code == 0 and "wrote 3 feeds to out.opml" in err
    # the config's name stays: an import of a feed already polled does not rename it
    assert {(f.url, f.title, f.lang) for f in exported} == {
        (insight, "InSight Crime", None),
        (jornada, "La Jornada", "es"),
        (universal, "El Universal", None),
    }


def test_feeds_import_does_not_add_a_feed_that_fails_unless_forced(workdir, capsys):
    """As `feeds add` refuses a feed answering 404, so does an import (issue 16, item 11)."""
    server = public_feed_server()
    try:
        (workdir / "subs.opml").write_bytes(local_opml(server, broken=True))
        config = import_config(workdir, [])
        code, out, err = run(capsys, "feeds", "import", "subs.opml", "--config", str(config))
        assert code == 0
        assert "1 not working" in out
        assert f"subs.opml:10: not added, {server.url('/rss')}: HTTP 404 Not Found" in err
        listed = {
            r["url"] for r in json.loads(run(capsys, "feeds", "--json", "--config", str(config))[1])
        }
        assert server.url("/rss") not in listed and len(listed) == 2
        forced = run(capsys, "feeds", "import", "subs.opml", "--force", "--config", str(config))[1]
        assert forced.startswith("imported 1 new feeds")
    finally:
        server.stop()


def test_feeds_list_without_a_config_leaves_the_stored_feeds_alone(workdir, capsys, monkeypatch):
    """With no config file, `feeds list` once marked every config feed removed ("0 feeds"
    while `monitor status` still counted them)."""
    config = write_config(workdir, [("https://a.test/rss", "A"), ("https://b.test/rss", "B")])
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'path = "monitor.db"', 'path = "data/monitor.db"'
        ),
        encoding="utf-8",
    )
    config = config.rename(workdir / "other.toml")  # so that no ./config.toml is found
    assert len(json.loads(run(capsys, "feeds", "--json", "--config", str(config))[1])) == 2
    monkeypatch.chdir(workdir)  # the defaults: data/monitor.db here
    listed = json.loads(run(capsys, "feeds", "--json")[1])
    assert [r["status"] for r in listed] == ["new", "new"]


def test_feeds_import_malformed_opml_exits_2_with_file_and_line(workdir, capsys):
    config = write_config(workdir, [])
    (workdir / "bad.opml").write_bytes(b"<opml>\n<body>\n<outline xmlUrl='x'>\n</opml>")
    code, _, err = run(capsys, "feeds", "import", "bad.opml", "--config", str(config))
    assert code == 2 and err.startswith("monitor: error: bad.opml:4: not well-formed XML")


def test_the_feed_table_fits_a_terminal():
    from monitor.cli.feeds import format_table

    now = datetime(2026, 11, 20, tzinfo=UTC)
    row = {
        "url": "https://example.org/" + "x" * 120,
        "name": "A very long outlet name " * 3,
        "title": None,
        "status": "failing",
        "source": "config",
        "active": 1,
        "failures": 3,
        "articles": 12,
        "last_ok_at": None,
        "next_attempt_at": None,
        "last_warning": None,
        "last_error": "cannot connect: " + "connection refused " * 10,
    }
    wide = format_table([row], now)
    assert max(map(len, wide.splitlines())) > 200
    narrow = format_table([row], now, width=100)
    assert max(map(len, narrow.splitlines())) <= 100
    assert "failing" in narrow and "…" in narrow
