"""UTC-aware time helpers: every stored time is an ISO 8601 string in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import cache
from importlib import resources
from typing import overload
from zoneinfo import ZoneInfo, available_timezones

# Names ZoneInfo loads that are not places: the machine's own zone, tzdata's "Factory"
# placeholder, and the "right/" (leap-second) and "posix/" copies of the database.
_NOT_PLACES = {"localtime", "Factory", "posixrules"}
MAX_ZONE_NAME = 64  # the longest IANA name is about 30 characters


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
@overload
def iso(moment: datetime | None) -> str | None: ...
def iso(moment: datetime | None) -> str | None:
    """`2026-11-25T16:54:56+00:00`: sortable as text because the format never varies."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cache
def _iana_names() -> frozenset[str]:
    try:  # the tzdata package (a dependency) lists exactly the IANA names
        names = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    except (ModuleNotFoundError, OSError):
        names = list(available_timezones())
    return frozenset(
        n for n in names if n not in _NOT_PLACES and not n.startswith(("right/", "posix/"))
    )


def iana_zone(name: str) -> ZoneInfo | None:
    """The IANA time zone called `name` (America/Mexico_City, UTC), or None.

    ZoneInfo alone accepts any file under the zone folder ("localtime", "Factory",
    "right/UTC") and raises OSError for a name too long for a file name."""
    if len(name) > MAX_ZONE_NAME or name not in _iana_names():
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, OSError):
        return None


def clock_time(hhmm: str) -> time:
    """ "07:30" -> 07:30 (validated where it is configured: config.TIME_RE, /digesttime)."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return time(hour, minute)


def local_at(day: date, at: time | str, tz: ZoneInfo) -> datetime:
    """`at` on the wall clock of `tz` on `day`, the one place "HH:MM that day there" is
    computed. A time skipped by a daylight-saving change (02:30 in spring) is the moment
    an hour later on the wall clock (03:30); one that happens twice (autumn) is the first."""
    return datetime.combine(day, clock_time(at) if isinstance(at, str) else at, tz)


def today_at(now: datetime, at: time | str, tz: ZoneInfo) -> datetime:
    """`at` today, where today is `now`'s date in `tz`."""
    return local_at(now.astimezone(tz).date(), at, tz)


def local_midnight(now: datetime, tz: ZoneInfo) -> datetime:
    """The start of `now`'s day in `tz`: where "today" begins for counts and /digest."""
    return today_at(now, time(0), tz)
