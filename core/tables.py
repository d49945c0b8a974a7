"""Shared django-tables2 base for every list page."""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables

from core.money import percent, points, usd

MAX_PER_PAGE = 200  # the most rows a list page shows (?per_page=)


def per_page_or_default(value: object, default: int) -> int:
    """The page size asked for in ?per_page=, between 1 and MAX_PER_PAGE; anything else (0, -5, "all") is the
    default, so a bad value never shows a one-row page."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return default
    if number < 1:
        return default
    return min(number, MAX_PER_PAGE)


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table"}
        template_name = "tables/table.html"
        per_page = 50

    def paginate(self, *args, per_page=None, **kwargs):  # type: ignore[no-untyped-def]
        if per_page is not None:
            per_page = per_page_or_default(per_page, self._meta.per_page)
        return super().paginate(*args, per_page=per_page, **kwargs)


def rate_html(value: Decimal) -> str:
    return percent(value)


class FormattedColumn(tables.Column):
    """A right-aligned number: formatted on screen, the plain Decimal in exports (``kind`` sets the unit in the
    CSV header and the number format in XLSX, see core/exports.py)."""

    formatter = staticmethod(str)
    kind = "text"

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
    kind = "money"


class RateColumn(FormattedColumn):
    """Percent with three decimals on screen ("6.125 %")."""

    formatter = staticmethod(percent)
    kind = "rate"


class PointsColumn(FormattedColumn):
    """A spread or threshold in percentage points ("0.750 pts")."""

    formatter = staticmethod(points)
    kind = "points"


class MonthsColumn(FormattedColumn):
    """A whole number of months ("20"); "—" when there is none."""

    kind = "months"

    def render(self, value):  # type: ignore[no-untyped-def]
        return "—" if value is None else str(value)
