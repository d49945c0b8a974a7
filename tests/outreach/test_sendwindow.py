from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from outreach.sendwindow import (
    due_at_for_day,
    is_within_window,
    next_window_start,
    window_end_for,
    zone_for,
)
from tests.factories import BorrowerFactory, OrganizationFactory

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
UTC = dt.UTC


@pytest.mark.parametrize(
    ("when_utc", "zone", "inside"),
    [
        (dt.datetime(2026, 11, 23, 12, 59, tzinfo=UTC), NY, False),  # 7:59 EST
        (dt.datetime(2026, 11, 23, 13, 0, tzinfo=UTC), NY, True),  # 8:00 EST
        (dt.datetime(2026, 11, 24, 1, 59, tzinfo=UTC), NY, True),  # 20:59 EST
        (dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC), NY, False),  # 21:00 EST
        (dt.datetime(2026, 11, 23, 13, 0, tzinfo=UTC), LA, False),  # same instant: 5:00 in Los Angeles
        (dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC), LA, True),  # 8:00 PST
    ],
)
def test_window_is_8am_to_9pm_in_the_borrowers_zone(when_utc, zone, inside):
    assert is_within_window(when=when_utc, zone=zone) is inside


def test_next_window_start_is_today_when_early_and_tomorrow_when_late():
    early = dt.datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 5:00 EST
    late = dt.datetime(2026, 11, 24, 3, 30, tzinfo=UTC)  # 22:30 EST on the 23rd
    assert next_window_start(when=early, zone=NY) == dt.datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert next_window_start(when=late, zone=NY) == dt.datetime(2026, 11, 24, 13, 0, tzinfo=UTC)


def test_next_window_start_across_the_spring_forward_change():
    # Saturday 2026-03-07 22:00 EST; clocks go forward on Sunday 2026-03-08 at 2:00 → 8:00 EDT is 12:00 UTC.
    saturday_night = dt.datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    assert next_window_start(when=saturday_night, zone=NY) == dt.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_next_window_start_across_the_fall_back_change():
    # Saturday 2026-10-31 22:00 EDT; clocks go back on Sunday 2026-11-01 → 8:00 EST is 13:00 UTC.
    saturday_night = dt.datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    assert next_window_start(when=saturday_night, zone=NY) == dt.datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_due_at_is_the_start_of_day_n_local_even_across_dst():
    start = dt.datetime(2026, 3, 5, 15, 0, tzinfo=UTC)  # Thursday 10:00 EST
    assert due_at_for_day(start=start, day_offset=1, zone=NY) == dt.datetime(2026, 3, 5, 5, 0, tzinfo=UTC)
    # Day 4 is Sunday 2026-03-08, the DST day itself: midnight is still EST.
    assert due_at_for_day(start=start, day_offset=4, zone=NY) == dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    # Day 10 is after the change: midnight EDT = 04:00 UTC.
    assert due_at_for_day(start=start, day_offset=10, zone=NY) == dt.datetime(2026, 3, 14, 4, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_zone_falls_back_to_the_organization_then_utc():
    org = OrganizationFactory(timezone="America/Denver")
    nowhere = {"organization": org, "mailing_state": ""}  # no zone and no state: the organization's zone
    assert zone_for(borrower=BorrowerFactory.build(**nowhere, timezone=""), organization=org).key == "America/Denver"
    assert zone_for(borrower=BorrowerFactory.build(**nowhere, timezone="Mars/Olympus"), organization=org).key == (
        "America/Denver"
    )
    org.timezone = "Nowhere/Atall"
    assert zone_for(borrower=BorrowerFactory.build(**nowhere, timezone=""), organization=org).key == "UTC"


@pytest.mark.django_db
def test_florida_window_ends_at_8pm():
    org = OrganizationFactory()
    assert window_end_for(BorrowerFactory.build(organization=org, mailing_state="FL")) == dt.time(20, 0)
    assert window_end_for(BorrowerFactory.build(organization=org, mailing_state="IL")) == dt.time(21, 0)
