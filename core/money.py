"""The one place money and rates are rounded.

Money is ``Decimal`` in dollars with cents, rounded ROUND_HALF_UP exactly once, here.
Rates are percent (6.5 means 6.5 %) with three decimals.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.001")
ZERO = Decimal("0.00")
MAX_RATE = Decimal("25")  # the highest rate (percent) refiapp accepts anywhere: imports, FRED, forms, the API


def validate_rate(value: Decimal) -> None:
    """A percent rate between 0 and MAX_RATE (25 %)."""
    from django.core.exceptions import ValidationError

    if not Decimal(0) <= Decimal(value) <= MAX_RATE:
        raise ValidationError(f"A rate is a percent between 0 and {MAX_RATE}.")


def to_decimal(value: Decimal | int | str | float) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # floats only ever arrive from formulas on floats (x*); go through repr to avoid binary noise
        return Decimal(repr(value))
    return Decimal(value)


def money(value: Decimal | int | str | float) -> Decimal:
    """Round an amount to cents, half up."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def rate(value: Decimal | int | str | float) -> Decimal:
    """Round a percent rate to three decimals, half up."""
    return to_decimal(value).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def money_down(value: Decimal | int | str | float) -> Decimal:
    """Round an amount down to cents: for maxima that must not exceed a limit (e.g. a maximum loan by LTV)."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_FLOOR)


def money_up(value: Decimal | int | str | float) -> Decimal:
    """Round an amount up to cents: for minima that must cover a sum (e.g. a loan that pays off another)."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_CEILING)


def usd(value: Decimal | int | str | float) -> str:
    """Dollars for people: $1,234.50, and −$916.95 (sign before the dollar sign) for a negative amount."""
    amount = money(value)
    return f"−${-amount:,}" if amount < 0 else f"${amount:,}"


NBSP = "\u00a0"


def percent(value: Decimal | int | str | float) -> str:
    """A rate for people, the one way everywhere: 6.125 % (three decimals; a no-break space before the sign)."""
    return f"{rate(value)}{NBSP}%"


def points(value: Decimal | int | str | float) -> str:
    """A difference of rates (a spread, a threshold) in percentage points: 0.750 pts."""
    return f"{rate(value)}{NBSP}pts"
