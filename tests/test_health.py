"""`monitor status --check` is unhealthy when no feed works (issue 16, item 5).

Before, with 0 of 10 feeds reachable it reported ok and exited 0, so the Docker
HEALTHCHECK passed.
"""

from __future__ import annotations

import json
import socket

import pytest
from conftest import SHIPPED_WATCHLISTS, rss, run_monitor
from fakes.feed_server import FeedServer, Route


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_with(tmp_path, urls: list[str]):
    config = tmp_path / "config.toml"
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\n' for u in urls)
    config.write_text(
        f'[storage]\npath = "monitor.db"\n[watchlists]\npath = "{SHIPPED_WATCHLISTS.as_posix()}"\n'
        f'[digest]\nhtml_dir = "pages"\n[poll]\ntimeout_seconds = 1\n{feeds}',
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("working, healthy", [(0, False), (4, False), (5, True), (10, True)])
def test_health_follows_how_many_feeds_work(tmp_path, working, healthy):
    with FeedServer() as server:
        good = [server.set(f"/{n}.xml", Route(body=rss([]))) for n in range(working)]
        dead = [f"http://127.0.0.1:{closed_port()}/feed{n}.xml" for n in range(10 - working)]
        config = config_with(tmp_path, good + dead)
        poll = run_monitor("poll", "--once", "--config", str(config), cwd=tmp_path)
        assert poll.returncode == 0, poll.stderr
    status = run_monitor("status", "--config", str(config), "--check", "--json", cwd=tmp_path)
    data = json.loads(status.stdout)
    assert data["healthy"] is healthy and (status.returncode == 0) is healthy
    if working == 0:
        assert data["problems"] == ["no feed has been fetched successfully ever (10 of 10 failing)"]
    elif not healthy:
        assert data["problems"] == ["6 of 10 feeds are failing (more than 50%)"]
    text = run_monitor("status", "--config", str(config), cwd=tmp_path).stdout
    assert text.startswith("health: ok" if healthy else "health: PROBLEM")
