"""Table exports that say what their numbers are.

CSV: plain values (money with cents, rates in percent, dates as YYYY-MM-DD) under headers that carry the unit
("Note rate (%)", "Monthly savings ($)"). XLSX: money as numbers in a currency format, rates as percent with
three decimals, dates as real dates in the one date format. Every list page's export uses this class; it keeps
``core.tables.SafeTableExport``'s CSV-injection guard (formula-like text is prefixed in CSV, a text cell in XLSX).
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import django_tables2 as tables
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from core.tables import SafeTableExport, formula_like

# kind: (CSV unit, XLSX number format)
KINDS: dict[str, tuple[str, str | None]] = {
    "money": ("$", '"$"#,##0.00;-"$"#,##0.00'),
    "rate": ("%", "0.000%"),
    "points": ("percentage points", "0.000"),
    "months": ("months", "0"),
    "date": ("YYYY-MM-DD", "mmm d, yyyy"),  # the XLSX twin of core/formats DATE_FORMAT ("Dec 1, 2026")
    "text": ("", None),
}


def column_kind(bound_column: Any) -> str:
    """What a column holds: the ``kind`` of our number columns, a date column, else text."""
    column = bound_column.column
    kind = getattr(column, "kind", None)
    if kind:
        return kind
    if isinstance(column, tables.DateColumn | tables.DateTimeColumn):
        return "date"
    return "text"


def header_with_unit(header: str, kind: str, *, export_format: str) -> str:
    unit = KINDS[kind][0]
    if not unit or header.rstrip().endswith(")") or (kind == "date" and export_format != "csv"):
        return header
    return f"{header} ({unit})"


def _as_date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _as_number(value: Any) -> Any:
    if isinstance(value, str) and value:
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


class TableExport(SafeTableExport):
    def __init__(self, export_format: str, table: Any, exclude_columns: Any = None, dataset_kwargs: Any = None):
        excluded = set(exclude_columns or ())
        self.kinds = [
            column_kind(column)
            for column in table.columns.iterall()
            if not (column.column.exclude_from_export or column.name in excluded)
        ]
        super().__init__(export_format, table, exclude_columns, dataset_kwargs)
        self.dataset.headers = [
            header_with_unit(str(header), kind, export_format=export_format)
            for header, kind in zip(self.dataset.headers, self.kinds, strict=True)
        ]

    def export(self) -> Any:
        if self.format == self.XLSX:
            return self.xlsx()
        return super().export()  # CSV: SafeTableExport prefixes formula-like text

    def xlsx(self) -> bytes:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=(self.dataset.title or "Export")[:31])
        bold = Font(bold=True)
        header_cells = []
        for header in self.dataset.headers:
            cell = WriteOnlyCell(sheet, value=header)
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in self.dataset:
            cells = []
            for value, kind in zip(row, self.kinds, strict=True):
                number_format = KINDS[kind][1]
                if value in ("", None, "—"):
                    value = None
                elif kind == "date":
                    value = _as_date(value)
                elif kind in ("money", "rate", "points", "months"):
                    value = _as_number(value)
                    if kind == "rate" and isinstance(value, Decimal | int | float):
                        value = Decimal(value) / 100  # 6.125 → 6.125 % in a percent-formatted cell
                cell = WriteOnlyCell(sheet, value=value)
                if number_format and value is not None and not isinstance(value, str):
                    cell.number_format = number_format
                if cell.data_type == "f" or formula_like(value):
                    cell.data_type, cell.quotePrefix = "s", True  # shown as typed, never evaluated
                cells.append(cell)
            sheet.append(cells)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
