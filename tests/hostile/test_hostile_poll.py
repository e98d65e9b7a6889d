"""Issue 12, findings 3-5 end to end: a hostile feed server through the real CLI.

A "public" outlet (127.0.0.2; the config's `internal_networks` makes only
127.0.0.1 and ::1 internal) serves an innocent feed whose links include
script URLs, a nested gzip bomb, and a feed that redirects to an internal
server on 127.0.0.1. An OPML file shared by someone else adds the redirecting
feed and tries internal addresses directly. Then one real `monitor poll
--once` process, whose peak memory is read from the kernel (wait4).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

from conftest import ROOT, rss, run_monitor
from fakes.feed_server import FeedServer, Route

from .payloads import MB, nested_gzip_bomb

INNOCENT = [
    {"title": "Sheinbaum meets border governors", "link": "https://e.org/governors"},
    {"title": "Sheinbaum answers on tariffs", "link": "javascript:alert(document.domain)"},
    {"title": "Sheinbaum names a new envoy", "link": " JaVaScRiPt:alert(1)"},
]
SECRET_TITLE = "SECRET Sheinbaum internal memo"
PEAK_RSS_LIMIT_MB = 200  # the bomb decodes to 512 MB; bounded, a poll stays near its ~70 MB


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.csp = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.hrefs += [attrs["href"]] if "href" in attrs else []
        self.csp |= (attrs.get("http-equiv") or "").lower() == "content-security-policy"


def run_measured(args: list[str], cwd: Path, env: dict) -> tuple[int, str, str, float]:
    """Run a command; (exit code, stdout, stderr, its own peak RSS in MB) via wait4."""
    out, err = cwd / "out.txt", cwd / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
        killer = threading.Timer(100, process.kill)  # wait4 has no timeout of its own
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, out.read_text(), err.read_text(), usage.ru_maxrss / 1024


def test_a_hostile_outlet_through_feeds_import_and_poll_once(tmp_path, sample_watchlists, public):
    with FeedServer() as internal:
        secret = internal.set(
            "/secret.xml", Route(body=rss([{"title": SECRET_TITLE, "link": "https://in.tra/1"}]))
        )
        port = internal._server.server_address[1]
        innocent = public.set("/innocent.xml", Route(body=rss(INNOCENT, "Innocent outlet")))
        bomb_body = nested_gzip_bomb(512 * MB)
        bomb = public.set(
            "/bomb.xml", Route(body=bomb_body, headers={"Content-Encoding": "gzip, gzip"})
        )
        moved = public.set(
            "/moved.xml", Route(status=302, content_type="", headers={"Location": secret})
        )
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\npath = "monitor.db"\n[watchlists]\npath = "{sample_watchlists}"\n'
            "[poll]\ntimeout_seconds = 10\nmax_bytes = 2_000_000\nparse_workers = 1\n"
            'internal_networks = ["127.0.0.1/32", "::1/128"]\n'
            '[digest]\ntimezone = "UTC"\nhtml_dir = "digests"\n'
            f'[[feeds]]\nurl = "{innocent}"\n[[feeds]]\nurl = "{bomb}"\n',
            encoding="utf-8",
        )
        shared = [moved, "file:///etc/passwd", f"http://0x7f000001:{port}/secret.xml"]
        shared.append(f"http://localhost:{port}/secret.xml")
        outlines = "".join(f'<outline text="f" xmlUrl="{u}"/>' for u in shared)
        (tmp_path / "shared.opml").write_text(
            f'<opml version="2.0"><body>{outlines}</body></opml>', encoding="utf-8"
        )

        probed = run_monitor(
            "feeds", "import", "shared.opml", "--config", str(config), cwd=tmp_path
        )
        assert probed.returncode == 0, probed.stderr
        # the import's own probe meets the internal redirect and does not add the feed ...
        assert "3 refused, 1 not working" in probed.stdout and "refused: redirect" in probed.stderr
        # ... and forced in anyway, the poll refuses it too
        imported = run_monitor(
            "feeds", "import", "shared.opml", "--force", "--config", str(config), cwd=tmp_path
        )
        assert imported.returncode == 0, imported.stderr
        assert "imported 1 new feeds" in imported.stdout and "3 refused" in imported.stdout

        code, stdout, stderr, peak_mb = run_measured(
            [sys.executable, "-m", "monitor", "poll", "--once", "--config", str(config)],
            tmp_path,
            {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        )
        internal_hits = internal.hits("/secret.xml")

    assert code == 0, stderr
    print(f"peak RSS of poll --once: {peak_mb:.0f} MB")
    assert peak_mb < PEAK_RSS_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"
    assert internal_hits == 0, "the internal server was reached"
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        titles = {row[0] for row in db.execute("SELECT title FROM articles")}
        errors = dict(db.execute("SELECT url, last_error FROM feeds"))
    assert titles == {item["title"] for item in INNOCENT}
    assert errors[innocent] is None
    assert errors[bomb] and "cut off at max_bytes (2,000,000 bytes)" in errors[bomb]
    assert errors[moved] and errors[moved].startswith("refused: redirect")
    [page] = (tmp_path / "digests").glob("????-??-??.html")
    text = page.read_text(encoding="utf-8")
    parsed = _Hrefs()
    parsed.feed(text)
    assert parsed.csp and SECRET_TITLE not in text
    assert "Sheinbaum answers on tariffs" in text and "Sheinbaum names a new envoy" in text
    outside = [h for h in parsed.hrefs if not h.startswith("#") and not h.endswith(".html")]
    assert outside == ["https://e.org/governors"]  # the archive's own day links aside
