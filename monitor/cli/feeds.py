"""`monitor feeds`: list, add, remove, import and export the feeds being polled.

The feeds polled are the config's `[[feeds]]` merged with those added at run
time (`feeds add`, `feeds import`); both live in the `feeds` table, marked
`source = 'config'` or `'added'`. Every command first brings the config's
feeds into the table, so what is listed is what the next cycle polls. A
config feed is removed by editing the config, not here: the next start would
bring it back.

An OPML file often comes from someone else, so `feeds import` refuses `file://`
and internal addresses (`netpolicy`) unless `--allow-private`; a URL given to
`feeds add` is the operator's own and is used as written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.core.config import Config, load_config
from monitor.core.errors import UserError
from monitor.core.models import Feed, FetchResult
from monitor.core.netpolicy import AddressPolicy
from monitor.core.timeutil import parse_iso
from monitor.feeds.opml import OpmlFeed, read_opml, write_opml
from monitor.storage import Store
from monitor.storage.factory import open_store
from monitor.text.textnorm import plural

URL_RE = re.compile(r"^(https?|file)://\S+$")
ERROR_WIDTH = 48


def add_parser(
    sub: argparse._SubParsersAction,
    with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    """Wire `monitor feeds ...` into the CLI's subparsers."""
    feeds = with_config(sub.add_parser("feeds", help="list and manage the feeds polled"))
    feeds.add_argument("--json", action="store_true", help="machine-readable list")
    feeds.add_argument("--all", action="store_true", help="include removed feeds")
    actions = feeds.add_subparsers(dest="feeds_command", metavar="ACTION")

    def action(name: str, help: str) -> argparse.ArgumentParser:
        # SUPPRESS: an option given before the action (`feeds --config X add`) must survive
        parser = actions.add_parser(name, help=help, argument_default=argparse.SUPPRESS)
        parser.add_argument("--config", metavar="PATH", help="config TOML")
        return parser

    listing = action("list", "every feed and its state (default)")
    listing.add_argument("--json", action="store_true", help="machine-readable list")
    listing.add_argument("--all", action="store_true", help="include removed feeds")
    add = action("add", "fetch a feed once and say what it holds, then poll it")
    add.add_argument("url", help="http(s):// or file:// URL of an RSS or Atom feed")
    add.add_argument("--name", default=None, help="display name (default: the feed's title)")
    add.add_argument("--lang", default=None, help="language hint, e.g. es")
    add.add_argument(
        "--force", action="store_true", default=False, help="add it even if it fails now"
    )
    action("remove", "stop polling a feed").add_argument("url")
    opml = action("import", "add the feeds of an OPML file")
    opml.add_argument("file", help="FILE.opml")
    opml.add_argument(
        "--allow-private",
        action="store_true",
        default=False,
        help="also import file:// URLs and internal addresses (loopback, private, link-local)",
    )
    opml.add_argument(
        "--force", action="store_true", default=False, help="add feeds that fail now, too"
    )
    export = action("export", "write every feed as OPML 2.0")
    export.add_argument("-o", "--output", default=None, metavar="FILE", help="default: stdout")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = open_store(config)
    try:
        if config.source is not None:  # no config file: leave the stored feeds as they are
            store.sync_feeds(((f.url, f.name, f.lang) for f in config.feeds), _now())
        action = args.feeds_command or "list"
        return ACTIONS[action](args, config, store)
    finally:
        store.close()


def _now() -> datetime:
    return datetime.now(UTC)


# -- list ------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace, config: Config, store: Store) -> int:
    now = _now()
    rows: list[dict[str, Any]] = [
        {**row, "status": feed_status(row, now)} for row in store.feed_rows(args.all)
    ]
    rows.sort(key=lambda r: (STATUS_ORDER.get(r["status"], 9), r["url"]))
    if args.json:
        print(json.dumps([{k: r.get(k) for k in JSON_KEYS} for r in rows], indent=2))
        return 0
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(format_table(rows, now, width))
    return 0


JSON_KEYS = (
    ("url", "name", "title", "lang", "source", "status", "last_ok_at", "last_error")
    + ("last_error_at", "last_warning", "failures", "next_attempt_at", "articles")
    + ("last_status", "etag", "last_modified")
)
STATUS_ORDER = {"failing": 0, "backoff": 1, "warning": 2, "new": 3, "ok": 4, "removed": 5}


def feed_status(row: Mapping[str, Any], now: datetime) -> str:
    if not row["active"]:
        return "removed"
    if row["failures"]:
        next_at = parse_iso(row["next_attempt_at"])
        return "backoff" if next_at and next_at > now else "failing"
    if row["last_ok_at"] is None:
        return "new"
    return "warning" if row.get("last_warning") else "ok"


def format_table(rows: list[dict], now: datetime, width: int | None = None) -> str:
    """The feeds as a table; within `width` columns (a terminal's) when given, by cutting the
    feed and error columns, never the status columns."""
    header = ("STATUS", "FAILS", "LAST OK", "NEXT TRY", "ARTICLES", "FEED", "LAST ERROR / WARNING")
    table = [header]
    for r in rows:
        problem = r["last_error"] if r["failures"] else (r.get("last_warning") or "")
        table.append(
            (
                r["status"],
                str(r["failures"]),
                _ago(parse_iso(r["last_ok_at"]), now),
                _until(parse_iso(r["next_attempt_at"]), now) if r["active"] else "-",
                str(r["articles"]),
                _label(r),
                _shorten(problem or "", ERROR_WIDTH),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    if width is not None:
        fixed = sum(widths[:-1]) + 2 * (len(header) - 1)
        room = max(width - fixed, 20)  # the feed and the error share what is left
        widths[-1] = min(widths[-1], max(room * 3 // 5, 12))
        error_room = max(room - widths[-1] - 2, 8)
        table = [
            (*row[:-2], _shorten(row[-2], widths[-1]), _shorten(row[-1], error_room))
            for row in table
        ]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in table
    ]
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in STATUS_ORDER}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines.append(f"{len(rows)} feeds" + (f": {summary}" if summary else ""))
    return "\n".join(line.rstrip() for line in lines)


def _label(row: dict) -> str:
    name = row["name"] or row["title"]
    label = f"{name} <{row['url']}>" if name else row["url"]
    return label + (" [added]" if row["source"] == "added" else "")


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _ago(moment: datetime | None, now: datetime) -> str:
    return "never" if moment is None else f"{_span(now - moment)} ago"


def _until(moment: datetime | None, now: datetime) -> str:
    return "next cycle" if moment is None or moment <= now else f"in {_span(moment - now)}"


def _span(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- add / remove ------------------------------------------------------------------------
def cmd_add(args: argparse.Namespace, config: Config, store: Store) -> int:
    url = args.url.strip()
    if not URL_RE.match(url):
        raise UserError(f"{url}: not a feed URL", hint="use an http://, https:// or file:// URL")
    existing = store.feed_row(url)
    if existing and existing["active"]:
        print(
            f"already polled ({'from the config' if existing['source'] == 'config' else 'added'}): {url}"
        )
        return 0
    found = asyncio.run(_try_feed(config, url, args.name, args.lang))
    if found.error and not args.force:
        raise UserError(f"{url}: {found.error}", hint="--force adds it anyway")
    print(found.describe())
    store.add_feed(url, args.name, args.lang, _now(), title=found.title)
    print(f"added {url}: polled from the next cycle")
    return 0


def cmd_remove(args: argparse.Namespace, config: Config, store: Store) -> int:
    url = args.url.strip()
    row = store.feed_row(url)
    if row is None or not row["active"]:
        raise UserError(f"{url}: not a feed being polled", hint="`monitor feeds` lists them")
    if row["source"] == "config":
        where = config.source or "the config"
        raise UserError(f"{url}: listed in {where}; remove it there")
    store.remove_feed(url)
    print(f"removed {url} (its {row['articles']} stored articles are kept)")
    return 0


@dataclass(frozen=True, slots=True)
class Probe:
    """What one fetch + parse of a candidate feed found."""

    url: str
    title: str | None = None
    entries: int = 0
    samples: tuple[str, ...] = ()
    warning: str | None = None
    error: str | None = None
    final_url: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"cannot use {self.url}: {self.error}"
        lines = [
            f"found {self.title or 'an untitled feed'}: {plural(self.entries, 'entry', 'entries')}"
        ]
        lines += [f"  - {title}" for title in self.samples]
        if self.warning:
            lines.append(f"warning: {self.warning}")
        if self.final_url and self.final_url != self.url:
            lines.append(f"note: redirected to {self.final_url}; consider adding that URL")
        return "\n".join(lines)


async def _try_feed(config: Config, url: str, name: str | None, lang: str | None) -> Probe:
    """One fetch and parse through the poller's own code, nothing stored."""
    return (await _try_feeds(config, [Feed(url, name, lang)]))[0]


async def _try_feeds(config: Config, feeds: list[Feed]) -> list[Probe]:
    """Each feed fetched and parsed once, concurrently within the poller's limits."""
    from monitor.feeds.fetch import Fetcher

    async with Fetcher(config.poll) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(feed) for feed in feeds))
    return [_probe(config, result) for result in results]


def _probe(config: Config, result: FetchResult) -> Probe:
    from monitor.feeds.parse import parse_feed

    url, name = result.feed.url, result.feed.name
    if result.error:
        return Probe(url, error=result.error)
    parsed = parse_feed(result, _now(), source_name=name, limits=config.poll.field_limits)
    if parsed.error:
        return Probe(url, error=parsed.error, final_url=result.final_url)
    return Probe(
        url,
        title=parsed.title,
        entries=len(parsed.articles),
        samples=tuple(a.title for a in parsed.articles[:3]),
        warning=parsed.warning,
        final_url=result.final_url,
    )


# -- import / export ---------------------------------------------------------------------
def cmd_import(args: argparse.Namespace, config: Config, store: Store) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    entries = read_opml(data, str(path))
    if not entries:
        raise UserError(f"{path}: no feeds in this OPML file (no outline has an xmlUrl)")
    feeds = [entry for entry in entries if URL_RE.match(entry.url)]
    for entry in entries:
        if not URL_RE.match(entry.url):
            print(f"{path}:{entry.line}: skipped, not a feed URL: {entry.url}", file=sys.stderr)
    refusals = {} if args.allow_private else asyncio.run(_refusals(feeds, config))
    for entry in feeds:
        if entry.url in refusals:
            print(
                f"{path}:{entry.line}: refused {entry.url}: {refusals[entry.url]}", file=sys.stderr
            )
    allowed = [f for f in feeds if f.url not in refusals]
    new = [f for f in allowed if not _polled(store, f.url)]
    unusable = {} if args.force else _unusable(config, new)
    for entry in new:
        if entry.url in unusable:  # as `feeds add` would: a feed that fails now is not added
            print(
                f"{path}:{entry.line}: not added, {entry.url}: {unusable[entry.url]}",
                file=sys.stderr,
            )
    valid = [(f.url, f.title, f.lang) for f in allowed if f.url not in unusable]
    added = store.add_feeds(valid, _now())
    refused = sum(1 for f in feeds if f.url in refusals)
    print(
        f"imported {len(added)} new feeds from {path}"
        f" ({len(valid) - len(added)} already polled, {len(entries) - len(feeds)} skipped"
        + (f", {refused} refused" if refused else "")
        + (f", {len(unusable)} not working" if unusable else "")
        + ")"
    )
    if unusable:
        print("hint: --force adds the feeds that do not work now, too", file=sys.stderr)
    if refused:
        print(
            "hint: local files and internal addresses are refused in an OPML file;"
            " --allow-private imports them (or add one with `monitor feeds add URL`)",
            file=sys.stderr,
        )
    return 0


def _polled(store: Store, url: str) -> bool:
    row = store.feed_row(url)
    return bool(row and row["active"])


def _unusable(config: Config, feeds: list[OpmlFeed]) -> dict[str, str]:
    """url -> why it cannot be used now, for the feeds an import would add."""
    if not feeds:
        return {}
    probes = asyncio.run(_try_feeds(config, [Feed(f.url, f.title, f.lang) for f in feeds]))
    return {p.url: p.error for p in probes if p.error}


async def _refusals(feeds: list[OpmlFeed], config: Config) -> dict[str, str]:
    """url -> why it is refused, for the feeds of an OPML file; resolved all at once."""
    policy = AddressPolicy(config.poll.internal_networks)
    reasons = await asyncio.gather(*(policy.refuse_shared(f.url) for f in feeds))
    return {f.url: reason for f, reason in zip(feeds, reasons, strict=True) if reason}


def cmd_export(args: argparse.Namespace, config: Config, store: Store) -> int:
    rows = store.feed_rows()
    text = write_opml(
        ((r["url"], r["name"] or r["title"], r["lang"]) for r in rows), "news-monitor feeds", _now()
    )
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} feeds to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


ACTIONS = {
    "list": cmd_list,
    "add": cmd_add,
    "remove": cmd_remove,
    "import": cmd_import,
    "export": cmd_export,
}
