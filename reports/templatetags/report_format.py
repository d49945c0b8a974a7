from __future__ import annotations

from typing import Any

from django import template

from reports.formatting import display

register = template.Library()


@register.filter
def as_money(value: Any) -> str:
    return display(value, "money")
