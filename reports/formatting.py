"""How report values read on the page, in the email and in CSV (one place, so the three agree)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core.money import money, usd

DASH = "—"
ONE_PLACE = Decimal("0.1")
HOURS_SHOWN_AS_DAYS = Decimal(48)


def duration_hours(value: dt.timedelta) -> Decimal:
    """A duration in hours with one decimal (half up)."""
    seconds = Decimal(value.days * 86400 + value.seconds) + Decimal(value.microseconds) / 1_000_000
    return (seconds / 3600).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)


def display(value: Any, kind: str) -> str:
    """Human form: 1,234 · $4,000.00 · 12.5% · 5.0 h / 3.2 d · — for no value."""
    if value is None:
        return DASH
    if kind == "count":
        return f"{value:,}"
    if kind == "money":
        return usd(value)
    if kind == "percent":
        return f"{value}%"
    if kind == "duration":
        hours = duration_hours(value)
        if hours < HOURS_SHOWN_AS_DAYS:
            return f"{hours} h"
        return f"{(hours / 24).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)} d"
    return str(value)


def display_change(value: Any, kind: str) -> str:
    """A signed change: +3 · −2 · 0 · +$4,000.00 · +12.5% · — when there is nothing to compare with."""
    if value is None:
        return DASH
    if value == 0:
        return display(value, kind)
    sign = "+" if value > 0 else "−"
    return sign + display(abs(value), kind)


def csv_value(value: Any, kind: str) -> str:
    """Machine form for CSV: plain numbers (money with cents, percent without the sign, durations in hours)."""
    if value is None:
        return ""
    if kind == "money":
        return str(money(value))
    if kind == "duration":
        return str(duration_hours(value))
    return str(value)
