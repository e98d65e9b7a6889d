"""Finding 4 of issue 12: an OPML file from someone else must not name internal addresses.

`monitor feeds import` refuses file:// and every URL whose host resolves to an
internal address (loopback, private, link-local, metadata), however it is
spelt, unless `--allow-private` is given. A refused URL is never fetched; the import
probes only the feeds it would add (here --force skips that: the accepted addresses are
on the internet, which tests never reach).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_monitor

from monitor.core.config import parse_config
from monitor.core.errors import ConfigError

REFUSED = [
    "file:///etc/passwd",
    "http://localhost:8080/feed",
    "http://0x7f000001/feed",
    "http://127.0.0.1:631/feed",
    "http://[::1]/feed",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/rss",
    "http://LOCALHOST./rss",
]
ACCEPTED = [
    "http://93.184.215.14/rss",  # a public address, written as one: nothing to resolve
    "https://news.example.invalid/rss",  # does not resolve now: checked when polled
]


def write_opml(folder: Path, urls: list[str]) -> Path:
    outlines = "\n".join(f'    <outline text="Feed {i}" xmlUrl="{u}"/>' for i, u in enumerate(urls))
    path = folder / "shared.opml"
    path.write_text(
        f'<?xml version="1.0"?>\n<opml version="2.0">\n  <head/>\n  <body>\n{outlines}\n'
        "  </body>\n</opml>\n",
        encoding="utf-8",
    )
    return path


def imported(folder: Path, config: Path) -> list[str]:
    listing = run_monitor("feeds", "--json", "--config", str(config), cwd=folder)
    assert listing.returncode == 0, listing.stderr
    return sorted(row["url"] for row in json.loads(listing.stdout))


@pytest.fixture
def config(tmp_path: Path, sample_watchlists: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "{tmp_path / "monitor.db"}"\n'
        f'[watchlists]\npath = "{sample_watchlists}"\n',
        encoding="utf-8",
    )
    return path


def test_import_refuses_internal_addresses_and_local_files(tmp_path, config):
    opml = write_opml(tmp_path, REFUSED + ACCEPTED)
    done = run_monitor(
        "feeds", "import", str(opml), "--force", "--config", str(config), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "imported 2 new feeds" in done.stdout and f"{len(REFUSED)} refused" in done.stdout
    for line, url in enumerate(REFUSED, start=5):  # the first outline is on line 5
        assert f"{opml}:{line}: refused {url}:" in done.stderr
    assert "--allow-private" in done.stderr
    assert imported(tmp_path, config) == sorted(ACCEPTED)


def test_allow_private_imports_them_all(tmp_path, config):
    opml = write_opml(tmp_path, REFUSED + ACCEPTED)
    done = run_monitor(
        "feeds",
        "import",
        str(opml),
        "--allow-private",
        "--force",
        "--config",
        str(config),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"imported {len(REFUSED) + len(ACCEPTED)} new feeds" in done.stdout
    assert imported(tmp_path, config) == sorted(REFUSED + ACCEPTED)


def test_internal_networks_must_be_networks():
    assert parse_config({}).poll.internal_networks == ("not-global",)
    networks = ["not-global", "127.0.0.1/32", "fd00::/8"]
    poll = parse_config({"poll": {"internal_networks": networks}}).poll
    assert poll.internal_networks == tuple(networks)
    with pytest.raises(ConfigError, match=r"\[poll\] internal_networks: .*10\.0\.0\.1/8"):
        parse_config({"poll": {"internal_networks": ["10.0.0.1/8"]}})
    with pytest.raises(ConfigError, match=r"\[poll\] internal_networks"):
        parse_config({"poll": {"internal_networks": "10.0.0.0/8"}})
