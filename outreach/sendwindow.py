"""When a message may go out: day N of a sequence and the 8am–9pm window in the borrower's timezone, never on a
US federal holiday (nor, by organization setting, on a Sunday) there.

The borrower's zone is the one of their ZIP (set on import, or given by the file); when it is unknown, the
message goes out only in the hours that are 8am–9pm (and a weekday that is not a holiday) in every zone of
their mailing state, and the organization's zone only when the state is unknown too.

All arithmetic is on aware datetimes with ``zoneinfo``; "8:00 local" is built from the local date, so a
DST change moves the UTC instant, never the local hour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.calendar import federal_holiday
from core.models import Organization
from core.us_states import state_zones
from loans.models import Borrower

WINDOW_START = dt.time(8, 0)
WINDOW_END = dt.time(21, 0)
# Stricter state rules on top of the federal TCPA window (47 CFR 64.1200(c)(1)):
# Florida's FTSA allows 8am–8pm only.
STATE_WINDOW_END = {"FL": dt.time(20, 0)}


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zones_for(*, borrower: Borrower, organization: Organization) -> list[ZoneInfo]:
    """The borrower's zone; when unknown, every zone of their mailing state; else the organization's, else UTC
    (an unknown name never blocks a pass)."""
    own = _zone(borrower.timezone)
    if own is not None:
        return [own]
    state = [zone for zone in (_zone(name) for name in state_zones(borrower.mailing_state)) if zone is not None]
    return state or [_zone(organization.timezone) or ZoneInfo("UTC")]


def zone_for(*, borrower: Borrower, organization: Organization) -> ZoneInfo:
    """The one zone that counts a borrower's days (day N of a sequence, today's date): the first of ``zones_for``."""
    return zones_for(borrower=borrower, organization=organization)[0]


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


@dataclass(frozen=True)
class Wait:
    until: dt.datetime
    reason: str


def _closed_day(day: dt.date, *, skip_sundays: bool) -> str:
    holiday = federal_holiday(day)
    if holiday:
        return f"US federal holiday ({holiday})"
    if skip_sundays and day.weekday() == 6:
        return "Sunday (no outreach on Sundays)"
    return ""


def send_wait(
    *, when: dt.datetime, zones: list[ZoneInfo], end: dt.time = WINDOW_END, skip_sundays: bool = False
) -> Wait | None:
    """None when a message may go out at ``when`` in every one of ``zones``; else the first instant at which it
    may, and why it waits. Each step moves to the latest next 8:00 among the zones that say no, so it ends."""
    candidate, reason = when, ""
    for _ in range(60):
        blocking = []
        for zone in zones:
            local = candidate.astimezone(zone)
            closed = _closed_day(local.date(), skip_sundays=skip_sundays)
            if closed:
                next_day = dt.datetime.combine(local.date() + dt.timedelta(days=1), WINDOW_START, tzinfo=zone)
                blocking.append((next_day.astimezone(dt.UTC), f"{closed}: waits for the next day, 8:00 {zone.key}."))
            elif not is_within_window(when=candidate, zone=zone, end=end):
                quiet = f"Quiet hours: waits for 8:00 {zone.key}."
                blocking.append((next_window_start(when=candidate, zone=zone), quiet))
        if not blocking:
            return None if candidate == when else Wait(until=candidate, reason=reason)
        candidate, why = max(blocking, key=lambda item: item[0])
        reason = reason or why
    return Wait(until=candidate, reason=reason)
