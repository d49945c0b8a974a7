"""How dates, times and rates read for people: the one place Python code formats them.

Dates and date-times use the formats set once in ``core/formats/en/formats.py`` (templates use the same
through ``|date``); times are shown in the active time zone, which ``core.middleware`` sets to the
organization's for every signed-in staff request.
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone


def date_text(value: dt.date | dt.datetime | None) -> str:
    """Dec 1, 2026 (a date-time is first moved to the active time zone)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    return formats.date_format(value, "DATE_FORMAT")


def datetime_text(value: dt.datetime | None) -> str:
    """Dec 1, 2026, 3:05 PM in the active time zone."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATETIME_FORMAT")


def zone_label(zone: dt.tzinfo | None = None, *, when: dt.datetime | None = None) -> str:
    """America/Chicago (CST): the zone every time on a page is in, said once per page."""
    zone = zone or timezone.get_current_timezone()
    name = getattr(zone, "key", None) or str(zone)
    abbreviation = (when or timezone.now()).astimezone(zone).tzname()
    if abbreviation and abbreviation != name and not abbreviation.startswith(("+", "-")):
        return f"{name.replace('_', ' ')} ({abbreviation})"
    return name.replace("_", " ")
