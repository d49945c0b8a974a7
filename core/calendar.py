"""Business days and US federal holidays (the ``holidays`` package's US federal calendar, observed days
included): the daily match runs on business days in the organization's zone, and outreach never goes out on a
federal holiday in the borrower's zone."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


@lru_cache(maxsize=1)
def _federal() -> holidays.HolidayBase:
    return holidays.country_holidays("US")  # the federal (public) category; years are filled in as asked


def federal_holiday(day: dt.date) -> str | None:
    """The name of the US federal holiday on ``day`` ("Thanksgiving Day", "Independence Day (observed)"), or None."""
    return _federal().get(day)


def is_business_day(day: dt.date) -> bool:
    """Monday to Friday and not a US federal holiday."""
    return day.weekday() < 5 and federal_holiday(day) is None
