"""Shared django-tables2 base for every list page."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables

from core.money import usd

MAX_PER_PAGE = 200  # the most rows a list page shows (?per_page=)


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table"}
        template_name = "tables/table.html"
        per_page = 50


def rate_html(value: Decimal) -> str:
    return f"{value}%"


class FormattedColumn(tables.Column):
    """A right-aligned number: formatted on screen, the plain Decimal in exports."""

    formatter = staticmethod(str)

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("attrs", {"td": {"class": "num"}, "th": {"class": "num"}})
        super().__init__(*args, **kwargs)

    def render(self, value):  # type: ignore[no-untyped-def]
        return self.formatter(value)

    def value(self, value):  # type: ignore[no-untyped-def]
        return value


class MoneyColumn(FormattedColumn):
    """Dollars on screen ("$1,234.56", "−$12.00")."""

    formatter = staticmethod(usd)


class RateColumn(FormattedColumn):
    """Percent with three decimals on screen ("6.125%")."""

    formatter = staticmethod(rate_html)
