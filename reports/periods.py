"""Report periods: whole days in the organization's timezone, each compared with the period just before it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

# Page presets: key -> (label, length in days). The period ends today (inclusive).
PRESETS: dict[str, tuple[str, int]] = {
    "7d": ("Last 7 days", 7),
    "4w": ("Last 4 weeks", 28),
    "quarter": ("Last quarter (13 weeks)", 91),
}
DEFAULT_PRESET = "7d"
MAX_DAYS = 366
# The weekly email is due from Monday 08:00 in the organization's timezone.
WEEKLY_SEND_HOUR = 8


@dataclass(frozen=True)
class Period:
    """``start`` to ``end`` inclusive, as whole local days of ``timezone``."""

    start: dt.date
    end: dt.date
    timezone: str
    preset: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("A period cannot end before it starts.")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> dt.datetime:
        """Midnight at the start of the first day (aware)."""
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=self.tz)

    @property
    def end_at(self) -> dt.datetime:
        """Midnight after the last day (aware, exclusive)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=self.tz)

    def previous(self) -> Period:
        """The period of the same length just before this one (the comparison)."""
        length = dt.timedelta(days=self.days)
        return Period(start=self.start - length, end=self.end - length, timezone=self.timezone)

    @property
    def is_week(self) -> bool:
        return self.days == 7

    @property
    def comparison_label(self) -> str:
        if self.is_week:
            return "week over week"
        return f"vs the previous {self.days} days"

    @property
    def label(self) -> str:
        if self.start == self.end:
            return _day(self.start)
        return f"{_day(self.start)} – {_day(self.end)}"


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def local_today(timezone: str, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(timezone)).date()


def preset_period(preset: str, *, timezone: str, now: dt.datetime) -> Period:
    """A preset period ending today (the organization's local date)."""
    _label, days = PRESETS[preset]
    today = local_today(timezone, now)
    return Period(start=today - dt.timedelta(days=days - 1), end=today, timezone=timezone, preset=preset)


def week_period(week_start: dt.date, *, timezone: str) -> Period:
    """Monday to Sunday of the week starting ``week_start``."""
    if week_start.weekday() != 0:
        raise ValueError(f"{week_start} is not a Monday.")
    return Period(start=week_start, end=week_start + dt.timedelta(days=6), timezone=timezone)


def due_week_start(*, timezone: str, now: dt.datetime) -> dt.date | None:
    """The Monday of the week whose report is due at ``now``, or None before Monday 08:00 local.

    From Monday 08:00 (local) until the next Monday, the report of the previous full week (Monday–Sunday) is
    due; a run that comes late (the worker was down at 08:00) still sends it, once.
    """
    local = now.astimezone(ZoneInfo(timezone))
    monday = local.date() - dt.timedelta(days=local.weekday())
    due_at = dt.datetime.combine(monday, dt.time(hour=WEEKLY_SEND_HOUR), tzinfo=ZoneInfo(timezone))
    if local < due_at:
        return None
    return monday - dt.timedelta(days=7)


def last_full_week_start(*, timezone: str, now: dt.datetime) -> dt.date:
    """The Monday of the last complete week (for sending by hand)."""
    today = local_today(timezone, now)
    return today - dt.timedelta(days=today.weekday() + 7)
