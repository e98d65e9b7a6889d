"""The one "HH:MM that day there" helper, across daylight-saving changes."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from monitor.core.timeutil import clock_time, local_at, local_midnight, today_at

NEW_YORK = ZoneInfo("America/New_York")


def test_today_is_the_date_where_the_chat_is_not_in_utc():
    late = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # still Dec 2 in New York
    assert today_at(late, "07:30", NEW_YORK) == datetime(2026, 12, 2, 12, 30, tzinfo=UTC)
    assert local_midnight(late, NEW_YORK) == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


def test_a_skipped_time_is_an_hour_later_and_a_repeated_one_the_first():
    skipped = local_at(date(2026, 3, 8), "02:30", NEW_YORK)
    assert skipped.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert skipped.astimezone(UTC).astimezone(NEW_YORK).time() == time(3, 30)
    twice = local_at(date(2026, 11, 1), "01:30", NEW_YORK)
    assert twice.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # still EDT


def test_clock_time_reads_hh_mm():
    assert clock_time("07:05") == time(7, 5)
