"""Finding 5 of issue 12: no script link in the digest pages, checked by clicking them.

Only http(s) links become hrefs; any other link is dropped and its title kept
as escaped text. A Content-Security-Policy meta tag forbids scripts, so even
a markup bug that let one through could not run it. The clicks are real
mouse events in headless Chromium (tests/hostile/cdp.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import write_html_archive
from fakes.feed_server import FeedServer, Route

from monitor.digests.build import Digest, DigestEntry, DigestTopic
from monitor.digests.page import render_html_page
from monitor.text.urlsafety import safe_http_url

from .cdp import CHROMIUM, Chromium

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
HOSTILE = {
    "plain": "javascript:void(document.title='ran-plain')",
    "mixed case": "JaVaScRiPt:void(document.title='ran-case')",
    "leading space": " javascript:void(document.title='ran-space')",
    "control char": "\x01javascript:void(document.title='ran-control')",
    "tab inside": "java\tscript:void(document.title='ran-tab')",
    "newline": "\njavascript:void(document.title='ran-newline')",
    "data": "data:text/html,<script>document.title='ran-data'</script>",
    "file": "file:///etc/hostname",
    "telegram": "tg://resolve?domain=ran",
    "vbscript": "vbscript:msgbox('ran')",
}
SAFE = "https://e.org/story?a=1&b=2"
no_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package chromium)"
)


def digest_of(links: dict[str, str]) -> Digest:
    entries = tuple(
        DigestEntry(
            title=f"<b>{name}</b> & story {i}",
            url=url,
            sources=("Outlet",),
            published_at=NOW,
            term="DEA",
            snippet=f"DEA story {i}",
            hit_ids=(i,),
            article_ids=(f"a{i}",),
        )
        for i, (name, url) in enumerate(links.items(), start=1)
    )
    topic = DigestTopic("w", "dea", "DEA immunity", "high", entries)
    return Digest("2026-11-20", "UTC", (topic,), generated_at=NOW)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.csp: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp.append(attrs["content"])

    def handle_data(self, data):
        self.text += data


@pytest.mark.parametrize("url", HOSTILE.values(), ids=HOSTILE.keys())
def test_only_http_urls_are_safe(url):
    assert safe_http_url(url) is None


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        (SAFE, SAFE),
        ("HTTP://E.org/x", "HTTP://E.org/x"),
        ("  https://e.org/x \n", "https://e.org/x"),  # what a browser strips at the ends
        ("https://e.org/a b", "https://e.org/a b"),  # a space inside is the browser's to encode
        ("https:/e.org/x", None),  # no host
        ("//e.org/x", None),  # relative to whatever the page is: not ours to guess
        ("/x", None),
        ("urn:news-monitor:abc", None),  # the pseudo-URL of a linkless article
        ("https://e.org/\x00x", None),
        ("", None),
    ],
)
def test_http_urls_are_kept_as_written(url, safe):
    assert safe_http_url(url) == safe


def test_the_page_links_only_http_urls_and_keeps_every_title(tmp_path):
    page = write_html_archive(digest_of({**HOSTILE, "safe": SAFE}), tmp_path)
    for path in (page, tmp_path / "index.html"):
        parsed = _Links()
        parsed.feed(path.read_text(encoding="utf-8"))
        assert parsed.csp and "script-src 'none'" in parsed.csp[0], path.name
        assert all(h.startswith("#") or h.endswith(".html") or h == SAFE for h in parsed.hrefs)
    parsed = _Links()
    parsed.feed(page.read_text(encoding="utf-8"))
    assert SAFE in parsed.hrefs
    for i, name in enumerate([*HOSTILE, "safe"], start=1):
        assert f"<b>{name}</b> & story {i}" in parsed.text  # escaped text, still shown


@no_chromium
def test_clicking_a_hostile_link_runs_nothing_in_chromium(tmp_path):
    with FeedServer() as server:
        landing = server.set(
            "/landing", Route(body=b"<title>landed</title>ok", content_type="text/html")
        )
        page = write_html_archive(digest_of({**HOSTILE, "control": landing}), tmp_path)
        with Chromium(tmp_path / "profile") as browser:
            ran = {}
            for number, name in enumerate(HOSTILE, start=1):
                browser.open(page.as_uri())
                browser.click_selector(f"#entry-{number} .num + *")
                time.sleep(0.4)  # a javascript: URL runs soon after the click, if at all
                ran[name] = browser.evaluate("[document.title, location.href]")
            # the control: the same click on an http link does follow it
            browser.open(page.as_uri())
            browser.click_selector(f"#entry-{len(HOSTILE) + 1} .num + *")
            deadline = time.monotonic() + 10
            while server.hits("/landing") == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
    assert server.hits("/landing") == 1, "the click harness did not click"
    unchanged = ["News digest 2026-11-20", page.as_uri()]
    changed = {name: seen for name, seen in ran.items() if seen != unchanged}
    assert not changed, f"clicks that ran or opened something: {', '.join(changed)}"


@no_chromium
def test_the_content_security_policy_blocks_scripts_that_slip_into_a_page(tmp_path):
    """Should escaping ever fail, the page's own policy still refuses to run scripts."""
    page = tmp_path / "page.html"
    slipped = (
        "<script>document.title='ran-inline'</script>"
        '<img src="data:," onerror="document.title=\'ran-onerror\'">'
        '<a id="slipped" href="javascript:void(document.title=\'ran-href\')">slipped link</a>'
    )
    page.write_text(
        render_html_page(digest_of({"safe": SAFE})).replace("</main>", slipped + "</main>"),
        encoding="utf-8",
    )
    with Chromium(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        browser.click_selector("#slipped")
        time.sleep(0.4)
        title = browser.evaluate("document.title")
    assert title == "News digest 2026-11-20"


def test_a_linkless_article_is_titled_not_linked(tmp_path: Path):
    page = render_html_page(digest_of({"no link": "urn:news-monitor:0123456789abcdef"}))
    assert "urn:news-monitor" not in page and "&lt;b&gt;no link&lt;/b&gt; &amp; story 1" in page
