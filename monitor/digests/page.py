"""A `Digest` as a standalone HTML page, and the archive of pages in `[digest] html_dir`.

The page needs no server and nothing from outside (inline CSS, no scripts, no
web fonts), reads on a phone and a desktop (one fluid column, dark mode), and
keeps every word in the document so the browser's find works. Every article
field is escaped, an article links only to an http(s) URL (`urlsafety`: any
other link is dropped, its title kept as text), and a Content-Security-Policy
forbids scripts, so even a markup bug could not run one (issue 12, finding 5).
The archive is one `YYYY-MM-DD.html` per day plus `index.html`, newest first,
with counts read back from each page's <meta>.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.core.timeutil import iso, parse_iso
from monitor.delivery.render import bold_term
from monitor.digests.build import Digest, DigestEntry, DigestTopic
from monitor.digests.render import also_in_text, sources_text, when
from monitor.text.urlsafety import safe_http_url

e = html.escape
PAGE_GLOB = "????-??-??.html"
HEAD_BYTES = 4096  # the <meta> counts sit in the first few hundred bytes of a page
# nothing but the inline style: no script, no plugin, no form, no <base>, nothing fetched
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'none'; base-uri 'none'; form-action 'none'"

PAGE_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f6f4;color:#1d1d1f}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.25rem;margin:2rem 0 .25rem}
h3{font-size:1.05rem;margin:1.25rem 0 .5rem;border-bottom:2px solid #ccc}
.high h3{border-color:#c0392b}.badge{font-size:.75rem;color:#fff;background:#c0392b;border-radius:.6rem;padding:0 .45rem;vertical-align:middle}
.meta{color:#555;font-size:.9rem}
article{background:#fff;border-radius:8px;padding:.75rem 1rem;margin:.5rem 0;box-shadow:0 1px 2px #0002;overflow-wrap:anywhere}
article a,article .title{font-weight:600}article a{color:#0b57d0;text-decoration:none}.num{color:#777;margin-right:.3rem}
.snippet{margin:.3rem 0 0}.votes{margin-top:.3rem}
mark{background:#ffe58a}.empty{font-style:italic}
.toc{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem}
.toc li{background:#fff;border-radius:1rem;padding:.15rem .7rem;box-shadow:0 1px 2px #0002}
.toc a{color:inherit;text-decoration:none}
@media (prefers-color-scheme:dark){body{background:#1b1b1d;color:#e6e6e6}article,.toc li{background:#26262a}
.meta,.num{color:#aaa}article a{color:#8ab4f8}mark{background:#6b5a00;color:#fff}}
@media print{body{background:#fff}article{box-shadow:none;border:1px solid #ccc;break-inside:avoid}}
"""


def render_html_page(digest: Digest, days: tuple[str | None, str | None] = (None, None)) -> str:
    """The day's page; `days` is the previous and the next day that have pages, linked
    beside the index at the top."""
    tz = ZoneInfo(digest.timezone)
    updated = (
        f" · updated {digest.generated_at.astimezone(tz):%Y-%m-%d %H:%M}"
        if digest.generated_at
        else ""
    )
    body = [
        _day_links(*days),
        f"<h1>News digest — {e(digest.date)}</h1>",
        f'<p class="meta">{digest.story_count} stories · {digest.hit_count} hits · '
        f"times in {e(digest.timezone)}{updated}</p>",
    ]
    if not digest.topics:
        body.append('<p class="empty">Nothing matched that day.</p>')
    else:
        links = "".join(
            f'<li><a href="#{_anchor(t)}">{e(t.title)}</a> <span class="meta">{len(t.entries)}</span></li>'
            for t in digest.topics
        )
        body.append(f'<nav><ul class="toc">{links}</ul></nav>')
    watchlist = None
    for number, topic, entry in digest.numbered():
        if entry is topic.entries[0]:
            if watchlist is not None:
                body.append("</section>")
            if topic.watchlist != watchlist:
                watchlist = topic.watchlist
                body.append(f"<h2>{e(topic.watchlist_title or topic.watchlist)}</h2>")
            body.append(_topic_heading(topic))
        body.append(_article(number, entry, tz, digest.date))
    if watchlist is not None:
        body.append("</section>")
    meta = {"hit-count": str(digest.story_count), "hits": str(digest.hit_count)}
    meta["digest-date"] = digest.date
    if digest.generated_at is not None:
        meta["generated-at"] = iso(digest.generated_at)
    return _page(f"News digest {digest.date}", "\n".join(body), meta)


def _day_links(previous: str | None, following: str | None) -> str:
    links = [f'<a href="{e(previous, quote=True)}.html">← {e(previous)}</a>'] if previous else []
    links.append('<a href="index.html">all days</a>')
    if following:
        links.append(f'<a href="{e(following, quote=True)}.html">{e(following)} →</a>')
    return f'<nav class="days meta">{" · ".join(links)}</nav>'


def _anchor(topic: DigestTopic) -> str:
    return e(f"{topic.watchlist}-{topic.topic}", quote=True)


def _topic_heading(topic: DigestTopic) -> str:
    high = topic.priority == "high"
    badge = ' <span class="badge">high priority</span>' if high else ""
    return (
        f'<section class="topic{" high" if high else ""}" id="{_anchor(topic)}">'
        f'<h3>{e(topic.title)}{badge} <span class="meta">({len(topic.entries)})</span></h3>'
    )


def _article(number: int, entry: DigestEntry, tz: ZoneInfo, date: str) -> str:
    snippet = bold_term(entry.snippet, entry.term).replace("<b>", "<mark>")
    snippet = snippet.replace("</b>", "</mark>")
    votes = ""
    if entry.relevant or entry.not_relevant:  # words too: not every font has the emoji
        votes = (
            f'<div class="meta votes">Votes: 👍 {entry.relevant} relevant · '
            f"👎 {entry.not_relevant} not relevant</div>"
        )
    url = safe_http_url(entry.url)
    title = (
        f'<a href="{e(url, quote=True)}">{e(entry.title)}</a>'
        if url
        else f'<span class="title">{e(entry.title)}</span>'
    )
    return (
        f'<article id="entry-{number}"><span class="num">{number}.</span>{title}'
        f'<div class="meta">{e(sources_text(entry))} · {when(entry, tz, date)}'
        f" · matched “{e(entry.term)}”{e(also_in_text(entry))}</div>"
        f'<p class="snippet">{snippet}</p>{votes}</article>'
    )


def _page(title: str, body: str, meta: Mapping[str, str] | None = None) -> str:
    metas = "".join(
        f'<meta name="{k}" content="{e(v, quote=True)}">' for k, v in (meta or {}).items()
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'  # first: it covers what follows
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{metas}<title>{e(title)}</title><style>{PAGE_CSS}</style></head>"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


# -- the archive --------------------------------------------------------------------
def write_page(digest: Digest, html_dir: Path) -> Path:
    """The day's page, linked to the days before and after it that have pages. A new day's
    page gives its predecessor a "next" link too (its neighbours are rewritten)."""
    html_dir.mkdir(parents=True, exist_ok=True)
    page = html_dir / f"{digest.date}.html"
    days = sorted({p.stem for p in html_dir.glob(PAGE_GLOB)} | {digest.date})
    at = days.index(digest.date)
    previous = days[at - 1] if at else None
    following = days[at + 1] if at + 1 < len(days) else None
    is_new = not page.exists()
    _write(page, render_html_page(digest, (previous, following)))
    if is_new:  # its neighbours now have a new next / previous day
        if previous:
            _relink(html_dir / f"{previous}.html", days[at - 2] if at > 1 else None, digest.date)
        if following:
            after = days[at + 2] if at + 2 < len(days) else None
            _relink(html_dir / f"{following}.html", digest.date, after)
    return page


_DAY_LINKS = re.compile(r'<nav class="days meta">.*?</nav>')


def _relink(page: Path, previous: str | None, following: str | None) -> None:
    """Rewrite the day links of a page written before (our own markup, one <nav>)."""
    try:
        text = page.read_text(encoding="utf-8")
    except OSError:
        return
    relinked, found = _DAY_LINKS.subn(_day_links(previous, following), text, count=1)
    if found:
        _write(page, relinked)


def _write(page: Path, text: str) -> None:
    temporary = page.with_suffix(".tmp")  # a reader never sees half a page
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(page)


def page_meta(page: Path) -> dict[str, str]:
    """The <meta name=… content=…> pairs at the top of an archived page."""
    try:
        with page.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return {}
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<meta name="([\w-]+)" content="([^"]*)">', head)
    }


def page_generated_at(page: Path) -> datetime | None:
    return parse_iso(page_meta(page).get("generated-at"))


def write_index(html_dir: Path) -> Path:
    rows = []
    for page in sorted(html_dir.glob(PAGE_GLOB), reverse=True):
        meta = page_meta(page)
        stories, hits = meta.get("hit-count", "?"), meta.get("hits")
        counts = f"{stories} {'story' if stories == '1' else 'stories'}"
        counts += f" · {hits} {'hit' if hits == '1' else 'hits'}" if hits is not None else ""
        rows.append(
            f'<li><a href="{e(page.name, quote=True)}">{e(page.stem)}</a> '
            f'<span class="meta">{e(counts)}</span></li>'
        )
    body = "<h1>News digests</h1>\n<ul>\n" + "\n".join(rows) + "\n</ul>"
    index = html_dir / "index.html"
    index.write_text(_page("News digests", body), encoding="utf-8")
    return index
