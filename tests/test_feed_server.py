"""Tests for the scripted feed server used by the poller tests."""

import gzip
import hashlib
import time
from pathlib import Path

import feedparser
import httpx
import pytest
from fakes.feed_server import FeedServer, Route, http_date

DEMO = Path(__file__).resolve().parent.parent / "monitor" / "cli" / "demo_feeds"
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def srv():
    with FeedServer() as server:
        yield server


@pytest.fixture
def client():
    with httpx.Client(timeout=5) as c:
        yield c


def test_200_with_headers(srv, client):
    url = srv.set("/a.xml", Route(body=RSS, headers={"X-Test": "1"}))
    assert url == srv.base_url + "/a.xml" and url.startswith("http://127.0.0.1:")
    r = client.get(url)
    assert r.status_code == 200
    assert r.content == RSS
    assert r.headers["content-type"] == "application/rss+xml"
    assert r.headers["x-test"] == "1"
    assert srv.hits("/a.xml") == 1
    log = srv.requests[-1]
    assert (log.path, log.status, log.method) == ("/a.xml", 200, "GET")
    assert "user-agent" in log.headers and log.headers["User-Agent"].startswith("python-httpx")


def test_etag_gives_304(srv, client):
    url = srv.set("/e.xml", Route(body=RSS, etag="v1"))
    first = client.get(url)
    assert first.headers["etag"] == '"v1"'
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get(url, headers={"If-None-Match": 'W/"v1"'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"v0"'}).status_code == 200
    assert [r.status for r in srv.requests] == [200, 304, 304, 200]
    assert srv.requests[1].headers["if-none-match"] == '"v1"'


def test_last_modified_gives_304(srv, client):
    now = time.time()
    url = srv.set("/lm.xml", Route(body=RSS, last_modified=http_date(now - 3600)))
    first = client.get(url)
    lm = first.headers["last-modified"]
    assert client.get(url, headers={"If-Modified-Since": lm}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": http_date(now)}).status_code == 304
    older = http_date(now - 7200)
    assert client.get(url, headers={"If-Modified-Since": older}).status_code == 200
    # If-None-Match wins over If-Modified-Since
    both = {"If-None-Match": '"other"', "If-Modified-Since": lm}
    assert client.get(url, headers=both).status_code == 200


def test_gzip_is_decoded_by_httpx(srv, client):
    body = (DEMO / "prensa-es.xml").read_bytes()
    url = srv.set("/g.xml", Route(body=body, gzip=True))
    r = client.get(url)
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) < len(body)
    assert r.content == body
    assert feedparser.parse(r.content).entries
    raw = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.content == body
    with client.stream("GET", url) as streamed:  # the bytes as sent are gzip
        assert gzip.decompress(b"".join(streamed.iter_raw())) == body


def test_delay_with_short_timeout_and_fast_stop(client):
    server = FeedServer().start()
    try:
        slow = server.set("/slow.xml", Route(body=RSS, delay=5))
        fast = server.set("/fast.xml", Route(body=RSS))
        t0 = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.get(slow, timeout=0.3)
        assert client.get(fast).status_code == 200  # not blocked by the slow request
        assert time.monotonic() - t0 < 2
        assert server.hits("/slow.xml") == 1
    finally:
        t1 = time.monotonic()
        server.stop()
        assert time.monotonic() - t1 < 2


def test_unknown_path_is_404(srv, client):
    r = client.get(srv.url("/nope.xml"))
    assert r.status_code == 404
    assert srv.requests[-1].status == 404 and srv.requests[-1].route is None


def test_redirect(srv, client):
    target = srv.set("/new.xml", Route(body=RSS))
    old = srv.set("/old.xml", Route(status=301, headers={"Location": target}))
    r = client.get(old)
    assert r.status_code == 301 and r.headers["location"] == target
    followed = client.get(old, follow_redirects=True)
    assert followed.status_code == 200 and followed.content == RSS
    assert [h.url for h in followed.history] == [httpx.URL(old)]


def test_redirect_loop(srv, client):
    url = srv.redirect_loop("/loop.xml")
    with pytest.raises(httpx.TooManyRedirects):
        client.get(url, follow_redirects=True)
    assert srv.hits("/loop.xml") > 1


def test_query_falls_back_to_path_and_sequence(srv, client):
    srv.set("/q.xml", Route(body=RSS))
    assert client.get(srv.url("/q.xml?utm_source=rss")).status_code == 200
    assert srv.hits("/q.xml") == 1
    url = srv.set_sequence("/flaky.xml", [Route(status=503), Route(body=RSS)])
    assert [client.get(url).status_code for _ in range(3)] == [503, 200, 200]


def test_serve_file_and_folder(srv, client):
    url = srv.serve_file("/wire.xml", DEMO / "wire-en.xml")
    body = (DEMO / "wire-en.xml").read_bytes()
    r = client.get(url)
    assert r.headers["etag"] == f'"{hashlib.sha1(body).hexdigest()}"'
    assert r.headers["content-type"] == "application/xml"
    urls = srv.serve_folder(DEMO, prefix="/demo")
    assert srv.url("/demo/analysis.atom") in urls
    atom = client.get(srv.url("/demo/analysis.atom"))
    assert atom.headers["content-type"] == "application/atom+xml"
    assert len(feedparser.parse(atom.content).entries) == 7
