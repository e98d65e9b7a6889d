"""Issue 12, finding 13: the edges of every input.

Each case was found by trying the bot and the CLI as an attacker would.
"""

from __future__ import annotations

import pytest

from monitor.bot.replies import cut
from monitor.core.config import ConfigError, check_timezone
from monitor.core.errors import UserError
from monitor.core.models import Feed, FetchResult
from monitor.feeds.parse import parse_feed
from monitor.pipeline.chats import MAX_ARGUMENT_CHARS, check_arguments, check_zone, mute
from monitor.text.htmltext import fold_space, html_to_text


@pytest.mark.parametrize(
    "name",
    [
        "localtime",
        "Factory",
        "posixrules",
        "right/UTC",
        "posix/UTC",
        "x" * 10_000,
        "../../etc/passwd",
        "",
    ],
)
def test_only_real_iana_zones_are_accepted(name):
    with pytest.raises(UserError):
        check_zone(name)
    with pytest.raises(ConfigError):
        check_timezone(name)


@pytest.mark.parametrize("name", ["UTC", "America/Mexico_City", "Europe/Madrid", "US/Eastern"])
def test_real_zones_still_are(name):
    assert check_zone(name) == name


@pytest.mark.parametrize("hours", ["0.0001", "0.5", "0", "721", "1e3", "-2"])
def test_mute_takes_hours_from_one_to_720(hours, store, clock):
    class Rt:  # chats.mute only needs the store
        pass

    rt = Rt()
    rt.store = store  # type: ignore[attr-defined]
    with pytest.raises(UserError, match="from 1 to 720"):
        mute(rt, "1", hours, clock.now)  # type: ignore[arg-type]


def test_command_arguments_are_bounded():
    assert check_arguments(["officials", "ken-salazar"]) == ["officials", "ken-salazar"]
    with pytest.raises(UserError, match="at most 64"):
        check_arguments(["a" * (MAX_ARGUMENT_CHARS + 1)])
    with pytest.raises(UserError, match="at most 20"):
        check_arguments(["w"] * 21)


def test_cut_keeps_the_limit():
    assert cut("x" * 10_067, 200) == "x" * 199 + "…"
    assert cut("short", 200) == "short"


@pytest.mark.parametrize(
    "raw",
    [
        "Shein\x00baum",
        "Sheinbaum\u202e lanigiro",
        "a\x07b\x9bc",
        "\u2066iso\u2069late",
        "line\nbreak\ttab",
    ],
)
def test_control_and_bidi_override_characters_never_reach_the_text(raw):
    for text in (fold_space(raw), html_to_text(f"<p>{raw}</p>")):
        assert text.isprintable(), repr(text)


def test_a_feed_with_nul_and_rlo_in_its_items_stores_clean_text():
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T\u202e</title>'
        "<item><title>Sheinbaum &#x202E;gnp.exe</title><link>https://e.example/1</link>"
        "<description>uno&#x2066;dos</description></item></channel></rss>"
    ).encode()
    parsed = parse_feed(FetchResult(Feed("https://e.example/rss"), 200, body), None)  # type: ignore[arg-type]
    [article] = parsed.articles
    assert article.title == "Sheinbaum gnp.exe" and article.summary == "unodos"
    assert parsed.title == "T"


def test_status_on_a_damaged_database_is_one_line_and_exit_1(tmp_path):
    import sqlite3

    from conftest import SHIPPED_WATCHLISTS, run_monitor

    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "monitor.db"\n[watchlists]\npath = "{SHIPPED_WATCHLISTS.as_posix()}"\n',
        encoding="utf-8",
    )
    assert run_monitor("poll", "--once", "--config", str(config), cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        db.execute("DROP TABLE hits")
    done = run_monitor("status", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        done.stderr.startswith("monitor: error: database error") and "no such table" in done.stderr
    )


def test_out_of_memory_in_poll_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    from monitor.cli import main as cli
    from monitor.cli import run as runner

    async def exhausted(config):
        raise MemoryError

    monkeypatch.setattr(runner, "poll_once", exhausted)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["poll", "--once"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("monitor: error: out of memory") and "Traceback" not in err
