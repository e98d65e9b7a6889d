"""Config TOML -> validated `Config`. Unknown keys are errors, so a typo never
silently does nothing; every error names the file, the section and the key.

Every key is optional. Relative paths resolve against the config file's folder
(or the current folder when there is no file).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.core.errors import ConfigError, did_you_mean
from monitor.core.models import FieldLimits
from monitor.core.netpolicy import NOT_GLOBAL
from monitor.core.timeutil import MAX_ZONE_NAME, iana_zone

DEFAULT_CONFIG_NAME = "config.toml"
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_FIELD_LIMITS = FieldLimits()


@dataclass(frozen=True, slots=True)
class StorageConfig:
    path: Path = Path("data/monitor.db")
    # "postgresql://user@host/db": PostgreSQL, which several workers can share; "": SQLite
    url: str = ""
    keep_days: int = 90
    # how long a command waits for another process's write lock before it says "busy"
    busy_timeout_seconds: float = 30


@dataclass(frozen=True, slots=True)
class WatchlistsConfig:
    path: Path = Path("watchlists")


@dataclass(frozen=True, slots=True)
class PollConfig:
    interval_seconds: int = 600
    jitter_seconds: int = 30
    timeout_seconds: float = 20
    max_concurrency: int = 16
    per_host: int = 4
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    cycle_deadline_seconds: float = 300
    max_backoff_seconds: int = 6 * 3600
    parse_workers: int = 0  # processes that parse big cycles; 0: none, a thread parses
    user_agent: str = "news-monitor/0.1 (+https://github.com/news-monitor)"
    max_title_chars: int = _FIELD_LIMITS.title
    max_summary_chars: int = _FIELD_LIMITS.summary
    max_content_chars: int = _FIELD_LIMITS.content
    # an article published longer ago than this goes to the digest only, never an instant
    # alert; so does everything in a feed's first fetch (its backlog). 0: no age limit
    alert_max_age_hours: float = 24
    # what a public feed may not redirect to, nor an OPML file name (netpolicy.py)
    internal_networks: tuple[str, ...] = ("not-global",)

    @property
    def field_limits(self) -> FieldLimits:
        return FieldLimits(self.max_title_chars, self.max_summary_chars, self.max_content_chars)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    url: str
    name: str | None = None
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class DigestConfig:
    time: str = "07:30"
    timezone: str = "America/Mexico_City"
    html_dir: Path = Path("data/digests")
    send_empty: bool = True
    surge_sources: int = 3
    surge_hours: float = 2
    max_per_topic: int = 10  # stories per topic in a Telegram digest; the page has them all
    base_url: str = ""  # where html_dir is served (https://…/digests): digests link the day


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    base_url: str = "https://api.telegram.org/bot"
    # how long a send waits for Telegram's answer: PTB's 5 s gave up on slow answers whose
    # messages were sent all the same, and the retry made duplicates (issue 12, finding 10)
    send_timeout_seconds: float = 20
    # Telegram's overall flood limit, counted by each worker: N workers on one PostgreSQL
    # database share it by each taking 30 / N (docs/deploy.md)
    messages_per_second: int = 30
    admins: tuple[int, ...] = ()
    allowed_chats: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """When `monitor status --check` (and the Docker HEALTHCHECK) reports a problem."""

    stale_intervals: float = 3  # no cycle finished, or no feed fetched, within this many
    failing_share: float = 0.5  # more than this share of the feeds failing


@dataclass(frozen=True, slots=True)
class Config:
    source: Path | None = None
    storage: StorageConfig = field(default_factory=StorageConfig)
    watchlists: WatchlistsConfig = field(default_factory=WatchlistsConfig)
    poll: PollConfig = field(default_factory=PollConfig)
    feeds: tuple[FeedConfig, ...] = ()
    digest: DigestConfig = field(default_factory=DigestConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    health: HealthConfig = field(default_factory=HealthConfig)


# section -> key -> expected type; the dataclass defaults are the defaults.
_SECTIONS: dict[str, tuple[type, dict[str, Any]]] = {
    "storage": (
        StorageConfig,
        {"path": Path, "url": str, "keep_days": int, "busy_timeout_seconds": float},
    ),
    "watchlists": (WatchlistsConfig, {"path": Path}),
    "poll": (
        PollConfig,
        {
            "interval_seconds": int,
            "jitter_seconds": int,
            "timeout_seconds": float,
            "max_concurrency": int,
            "per_host": int,
            "max_bytes": int,
            "max_redirects": int,
            "cycle_deadline_seconds": float,
            "max_backoff_seconds": int,
            "parse_workers": int,
            "user_agent": str,
            "max_title_chars": int,
            "max_summary_chars": int,
            "max_content_chars": int,
            "internal_networks": list[str],
            "alert_max_age_hours": float,
        },
    ),
    "digest": (
        DigestConfig,
        {
            "time": str,
            "timezone": str,
            "html_dir": Path,
            "send_empty": bool,
            "surge_sources": int,
            "surge_hours": float,
            "max_per_topic": int,
            "base_url": str,
        },
    ),
    "telegram": (
        TelegramConfig,
        {
            "base_url": str,
            "admins": list[int],
            "allowed_chats": list[int],
            "send_timeout_seconds": float,
            "messages_per_second": int,
        },
    ),
    "logging": (LoggingConfig, {"level": str}),
    "health": (HealthConfig, {"stale_intervals": float, "failing_share": float}),
}
_FEED_KEYS = {"url": str, "name": str, "lang": str}
_MINIMUMS = {
    "interval_seconds": 1,
    "timeout_seconds": 0.1,
    "send_timeout_seconds": 1,
    "messages_per_second": 1,
    "max_concurrency": 1,
    "per_host": 1,
    "max_bytes": 1024,
    "cycle_deadline_seconds": 1,
    "surge_sources": 2,
    "max_per_topic": 1,
    "surge_hours": 0.1,
    "max_backoff_seconds": 1,
    "stale_intervals": 1,
    "max_title_chars": 80,
    "max_summary_chars": 200,
    "max_content_chars": 200,
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_MAY_BE_EMPTY = {"[digest] base_url", "[storage] url"}  # "": not set


def find_config(explicit: str | Path | None) -> Path | None:
    """The config to use: the explicit path, else ./config.toml if present, else none."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                path,
                "",
                "config file not found",
                hint="copy config.example.toml to config.toml and edit it",
            )
        return path
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None


def load_config(explicit: str | Path | None = None) -> Config:
    """Load and validate the config; defaults when there is no file."""
    path = find_config(explicit)
    if path is None:
        return resolve_paths(Config(), Path.cwd())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"TOML syntax error: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot read: {exc}") from exc
    return resolve_paths(parse_config(data, path), path.resolve().parent)


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name == "feeds":
            continue
        if name not in _SECTIONS:
            raise ConfigError(
                path,
                f"[{name}]",
                f"unknown section{did_you_mean(name, [*_SECTIONS, 'feeds'])}",
                hint=f"known sections: {', '.join(sorted([*_SECTIONS, 'feeds']))}",
            )
        if not isinstance(value, dict):
            raise ConfigError(path, f"[{name}]", "must be a table")
        cls, schema = _SECTIONS[name]
        for key in value:
            if key not in schema:
                raise _unknown_key(path, name, key, schema)
        sections[name] = cls(
            **{
                key: _check_value(path, f"[{name}] {key}", schema.get(key), raw)
                for key, raw in value.items()
            }
        )
    feeds = _parse_feeds(data.get("feeds", []), path)
    config = Config(source=path, feeds=feeds, **sections)
    _check_semantics(config, path)
    return config


def _unknown_key(path: Path | None, section: str, key: str, schema: dict) -> ConfigError:
    if section == "telegram" and key in ("token", "bot_token", "api_token"):
        return ConfigError(
            path,
            f"[telegram] {key}",
            "the bot token is never read from a file",
            hint="set it in the environment: export TELEGRAM_BOT_TOKEN=... (and keep it out of git)",
        )
    return ConfigError(
        path,
        f"[{section}] {key}",
        f"unknown key{did_you_mean(key, schema)}",
        hint=f"[{section}] takes: {', '.join(sorted(schema))}",
    )


def _check_value(path: Path | None, where: str, expected: Any, raw: Any) -> Any:
    if expected is None:
        raise ConfigError(path, where, "unknown key")
    key = where.split()[-1]
    if expected is int or expected is float:
        ok = isinstance(raw, int | float) and not isinstance(raw, bool)
        if expected is int:
            ok = ok and isinstance(raw, int)
        if not ok:
            raise ConfigError(path, where, f"must be a number, not {raw!r}")
        if raw < _MINIMUMS.get(key, 0):
            raise ConfigError(path, where, f"must be at least {_MINIMUMS.get(key, 0)}, not {raw}")
        return raw
    if expected is bool:
        if not isinstance(raw, bool):
            raise ConfigError(path, where, f"must be true or false, not {raw!r}")
        return raw
    if expected is str and raw == "" and where in _MAY_BE_EMPTY:
        return raw
    if expected is str or expected is Path:
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(path, where, f"must be a non-empty string, not {raw!r}")
        return Path(raw) if expected is Path else raw
    if expected == list[int]:
        if not isinstance(raw, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in raw
        ):
            raise ConfigError(path, where, "must be a list of numeric Telegram ids")
        return tuple(raw)
    if expected == list[str]:
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise ConfigError(path, where, f"must be a list of strings, not {raw!r}")
        return tuple(raw)
    raise AssertionError(f"no check for {expected}")  # pragma: no cover


def _parse_feeds(raw: Any, path: Path | None) -> tuple[FeedConfig, ...]:
    if not isinstance(raw, list):
        raise ConfigError(path, "[[feeds]]", "must be an array of tables ([[feeds]])")
    feeds: list[FeedConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw, start=1):
        where = f"[[feeds]] #{index}"
        if not isinstance(entry, dict):
            raise ConfigError(path, where, "must be a table")
        values = {
            k: _check_value(path, f"{where} {k}", _FEED_KEYS.get(k), v) for k, v in entry.items()
        }
        url = values.get("url")
        if not url:
            raise ConfigError(path, where, "url is required")
        if not re.match(r"^(https?|file)://", url):
            raise ConfigError(
                path, f"{where} url", f"must start with http://, https:// or file://: {url}"
            )
        if url in seen:
            raise ConfigError(path, f"{where} url", f"listed twice: {url}")
        seen.add(url)
        feeds.append(FeedConfig(**values))
    return tuple(feeds)


def _check_semantics(config: Config, path: Path | None) -> None:
    if not TIME_RE.match(config.digest.time):
        raise ConfigError(
            path, "[digest] time", f"must be HH:MM (24-hour), not {config.digest.time!r}"
        )
    check_timezone(config.digest.timezone, path, "[digest] timezone")
    if config.logging.level.upper() not in LOG_LEVELS:
        raise ConfigError(path, "[logging] level", f"must be one of {', '.join(LOG_LEVELS)}")
    for network in config.poll.internal_networks:
        try:
            if network != NOT_GLOBAL:
                ipaddress.ip_network(network)
        except ValueError as exc:
            raise ConfigError(
                path,
                "[poll] internal_networks",
                f"not a network: {exc}",
                hint=f'write networks as "10.0.0.0/8" or "fd00::/8", or "{NOT_GLOBAL}"',
            ) from exc
    if config.digest.base_url and not re.match(r"^https?://", config.digest.base_url):
        raise ConfigError(path, "[digest] base_url", "must start with http:// or https://")
    if config.storage.url and not re.match(r"^postgres(ql)?://", config.storage.url):
        raise ConfigError(
            path,
            "[storage] url",
            "must start with postgresql:// (PostgreSQL); for SQLite set [storage] path",
            hint='e.g. url = "postgresql://monitor@db.internal/monitor"',
        )
    if not re.match(r"^https?://", config.telegram.base_url):
        raise ConfigError(path, "[telegram] base_url", "must start with http:// or https://")


def check_timezone(name: str, path: Path | None = None, where: str = "timezone") -> ZoneInfo:
    zone = iana_zone(name)
    if zone is None:
        raise ConfigError(
            path,
            where,
            f"unknown time zone {name[:MAX_ZONE_NAME]!r}",
            hint="use an IANA name such as America/Mexico_City",
        )
    return zone


def resolve_paths(config: Config, base: Path) -> Config:
    """Make relative paths absolute against `base` (the config file's folder)."""
    from dataclasses import replace

    def absolute(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    return replace(
        config,
        storage=replace(config.storage, path=absolute(config.storage.path)),
        watchlists=replace(config.watchlists, path=absolute(config.watchlists.path)),
        digest=replace(config.digest, html_dir=absolute(config.digest.html_dir)),
    )
