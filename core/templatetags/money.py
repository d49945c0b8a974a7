from __future__ import annotations

from typing import Any

from django import template

from core.money import usd as format_usd

register = template.Library()


@register.filter
def usd(value: Any) -> str:
    """``{{ amount|usd }}``: $1,234.50 / −$916.95; an empty value stays empty."""
    if value is None or value == "":
        return ""
    return format_usd(value)
