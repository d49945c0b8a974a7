from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from reports.periods import Period, due_week_start, last_full_week_start, preset_period, week_period

CHICAGO = ZoneInfo("America/Chicago")


def test_period_bounds_are_local_midnights_across_a_dst_change():
    # US daylight saving time ended on Sunday 2026-11-01: that week has a 25-hour day.
    period = week_period(dt.date(2026, 10, 26), timezone="America/Chicago")
    assert period.start_at == dt.datetime(2026, 10, 26, 5, 0, tzinfo=dt.UTC)  # CDT, UTC-5
    assert period.end_at == dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)  # CST, UTC-6
    assert period.days == 7
    assert period.previous() == Period(dt.date(2026, 10, 19), dt.date(2026, 10, 25), "America/Chicago")
    assert period.comparison_label == "week over week"


def test_presets_end_today_in_the_organizations_timezone():
    # 03:00 UTC on Nov 19 is still Nov 18 in Chicago.
    now = dt.datetime(2026, 11, 19, 3, 0, tzinfo=dt.UTC)
    assert preset_period("7d", timezone="America/Chicago", now=now) == Period(
        dt.date(2026, 11, 12), dt.date(2026, 11, 18), "America/Chicago", preset="7d"
    )
    assert preset_period("7d", timezone="UTC", now=now).end == dt.date(2026, 11, 19)
    quarter = preset_period("quarter", timezone="America/Chicago", now=now)
    assert (quarter.days, quarter.previous().end) == (91, dt.date(2026, 8, 19))


@pytest.mark.parametrize(
    ("local_now", "expected"),
    [
        (dt.datetime(2026, 11, 16, 7, 59), None),  # Monday before 08:00
        (dt.datetime(2026, 11, 16, 8, 0), dt.date(2026, 11, 9)),  # Monday 08:00: last week's report
        (dt.datetime(2026, 11, 18, 2, 0), dt.date(2026, 11, 9)),  # a late run later in the week
        (dt.datetime(2026, 11, 22, 23, 59), dt.date(2026, 11, 9)),  # Sunday night
        (dt.datetime(2026, 11, 23, 8, 30), dt.date(2026, 11, 16)),
    ],
)
def test_due_week(local_now, expected):
    assert due_week_start(timezone="America/Chicago", now=local_now.replace(tzinfo=CHICAGO)) == expected


def test_last_full_week_for_the_command():
    assert last_full_week_start(timezone="UTC", now=dt.datetime(2026, 11, 16, 1, 0, tzinfo=dt.UTC)) == dt.date(
        2026, 11, 9
    )
    assert last_full_week_start(timezone="UTC", now=dt.datetime(2026, 11, 15, 23, 0, tzinfo=dt.UTC)) == dt.date(
        2026, 11, 2
    )


def test_invalid_periods_are_refused():
    with pytest.raises(ValueError, match="not a Monday"):
        week_period(dt.date(2026, 11, 10), timezone="UTC")
    with pytest.raises(ValueError, match="cannot end before"):
        Period(dt.date(2026, 11, 10), dt.date(2026, 11, 9), "UTC")
