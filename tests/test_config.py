"""Config loading: defaults, validation, unknown keys, paths relative to the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.core.config import Config, load_config
from monitor.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_and_documents_every_default():
    config = load_config(ROOT / "config.example.toml")
    defaults = Config()
    assert config.poll == defaults.poll
    assert config.digest.time == defaults.digest.time
    assert config.digest.timezone == defaults.digest.timezone
    assert config.telegram == defaults.telegram
    assert config.storage.path == ROOT / "data" / "monitor.db"
    assert len(config.feeds) >= 6
    assert {f.lang for f in config.feeds} == {"en", "es"}


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = write(tmp_path, '[storage]\npath = "db/x.db"\n[watchlists]\npath = "wl"\n')
    config = load_config(path)
    assert config.storage.path == tmp_path / "db" / "x.db"
    assert config.watchlists.path == tmp_path / "wl"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[poll]\ninterval_secs = 5\n", "[poll] interval_secs: unknown key"),
        ("[pol]\ninterval_seconds = 5\n", "[pol]: unknown section"),
        ('[poll]\ninterval_seconds = "5"\n', "[poll] interval_seconds: must be a number"),
        ("[poll]\ninterval_seconds = 0\n", "[poll] interval_seconds: must be at least 1"),
        ("[poll]\nmax_concurrency = true\n", "[poll] max_concurrency: must be a number"),
        ('[digest]\ntime = "7:30"\n', "[digest] time: must be HH:MM"),
        ('[digest]\ntimezone = "Mars/Olympus"\n', "[digest] timezone: unknown time zone"),
        ('[telegram]\nadmins = ["me"]\n', "[telegram] admins: must be a list of numeric"),
        ('[[feeds]]\nname = "x"\n', "[[feeds]] #1: url is required"),
        ('[[feeds]]\nurl = "ftp://x"\n', "[[feeds]] #1 url: must start with"),
        ('[[feeds]]\nurl = "https://a"\nlanguage = "es"\n', "[[feeds]] #1 language: unknown key"),
        ('[[feeds]]\nurl = "https://a"\n[[feeds]]\nurl = "https://a"\n', "listed twice"),
        ("[poll\n", "TOML syntax error"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_cli_reports_config_error_in_one_line_with_exit_2(tmp_path):
    path = write(tmp_path, "[poll]\ninterval_secs = 5\n")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "poll", "--once", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{path}: [poll] interval_secs: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "status", "--config", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "config file not found" in result.stderr and "hint:" in result.stderr


def test_example_config_documents_every_key():
    from monitor.core.config import _FEED_KEYS, _SECTIONS

    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    sections = {line.strip() for line in text.splitlines() if line.startswith("[")}
    keys = {line.split("=")[0].strip() for line in text.splitlines() if "=" in line}
    for section, (_cls, schema) in _SECTIONS.items():
        assert any(s.startswith(f"[{section}]") for s in sections), section
        missing = set(schema) - keys
        assert not missing, f"[{section}] keys missing from config.example.toml: {missing}"
    assert set(_FEED_KEYS) <= keys


def test_a_misspelt_key_gets_a_did_you_mean_and_a_token_a_pointer_to_the_environment():
    from monitor.core.config import parse_config

    with pytest.raises(ConfigError) as typo:
        parse_config({"poll": {"interval_secs": 60}})
    assert "[poll] interval_secs: unknown key (did you mean 'interval_seconds'?)" in str(typo.value)
    with pytest.raises(ConfigError) as section:
        parse_config({"telegramm": {}})
    assert "(did you mean 'telegram'?)" in str(section.value)
    with pytest.raises(ConfigError) as token:
        parse_config({"telegram": {"token": "123:abc"}})
    assert "never read from a file" in str(token.value)
    assert "TELEGRAM_BOT_TOKEN" in token.value.hint and "123:abc" not in str(token.value)
