"""The one way templates show money and rates: ``{{ amount|usd }}``, ``{{ rate|pct }}``, ``{{ spread|pts }}``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from core.money import percent, points
from core.money import usd as format_usd

register = template.Library()


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def usd(value: Any) -> str:
    """$1,234.50 / −$916.95; an empty value stays empty."""
    number = _number(value)
    return "" if number is None else format_usd(number)


@register.filter
def pct(value: Any) -> str:
    """6.125 %; an empty value stays empty."""
    number = _number(value)
    return "" if number is None else percent(number)


@register.filter
def pts(value: Any) -> str:
    """0.750 pts (percentage points); an empty value stays empty."""
    number = _number(value)
    return "" if number is None else points(number)
