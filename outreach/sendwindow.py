"""When a message may go out: day N of a sequence and the 8am–9pm window in the borrower's timezone.

All arithmetic is on aware datetimes with ``zoneinfo``; "8:00 local" is built from the local date, so a
DST change moves the UTC instant, never the local hour.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.models import Organization
from loans.models import Borrower

WINDOW_START = dt.time(8, 0)
WINDOW_END = dt.time(21, 0)
# Stricter state rules on top of the federal TCPA window (47 CFR 64.1200(c)(1)):
# Florida's FTSA allows 8am–8pm only.
STATE_WINDOW_END = {"FL": dt.time(20, 0)}


def zone_for(*, borrower: Borrower, organization: Organization) -> ZoneInfo:
    """The borrower's timezone, else the organization's, else UTC (an unknown name never blocks a pass)."""
    for name in (borrower.timezone, organization.timezone, "UTC"):
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def window_end_for(borrower: Borrower) -> dt.time:
    return STATE_WINDOW_END.get((borrower.mailing_state or "").upper(), WINDOW_END)


def local_start_of_day(*, day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone).astimezone(dt.UTC)


def due_at_for_day(*, start: dt.datetime, day_offset: int, zone: ZoneInfo) -> dt.datetime:
    """Start of day ``day_offset`` (day 1 = the local date of ``start``) in ``zone``, as UTC."""
    first_day = start.astimezone(zone).date()
    return local_start_of_day(day=first_day + dt.timedelta(days=day_offset - 1), zone=zone)


def is_within_window(*, when: dt.datetime, zone: ZoneInfo, end: dt.time = WINDOW_END) -> bool:
    local = when.astimezone(zone).time()
    return WINDOW_START <= local < end


def next_window_start(*, when: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The next 8:00 local time strictly usable at or after ``when`` (today's if it is still early)."""
    local = when.astimezone(zone)
    day = local.date() if local.time() < WINDOW_START else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, WINDOW_START, tzinfo=zone).astimezone(dt.UTC)
