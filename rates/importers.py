"""Parsing of rate files: FRED CSV downloads and the secondary-market desk's daily rate sheet.

Parsers only read and check; they never write. Every problem is reported with its line number, and a file
with any problem is not imported at all (the services decide, atomically).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO

from core.choices import ProductType, term_bucket
from core.money import MAX_RATE
from core.money import rate as round_rate

FRED_DATE_HEADERS = {"date", "observation_date"}  # ≤2024 downloads say DATE, 2025+ say observation_date
MISSING_VALUES = {"", "."}
PRODUCT_KEY = re.compile(
    r"^(?P<product>conforming|conf|jumbo|fha|va|usda)[\s_/-]*(?P<years>\d{1,2})\s*(?:y|yr|yrs|year|years)?$",
    re.IGNORECASE,
)
PRODUCT_ALIASES = {"conf": ProductType.CONFORMING}


class RateFileError(ValueError):
    """The file as a whole is unusable (wrong header, not a CSV, empty)."""


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ParsedFredCsv:
    series_code: str
    observations: list[tuple[dt.date, Decimal]] = field(default_factory=list)
    missing: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.observations) + self.missing


def read_text(file: IO[bytes] | IO[str] | str | bytes) -> str:
    """The text of an uploaded or opened file (UTF-8, with or without BOM)."""
    if isinstance(file, str | bytes):
        content = file
    else:
        if hasattr(file, "seek"):
            file.seek(0)
        content = file.read()
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RateFileError("the file is not UTF-8 text (save the sheet as CSV UTF-8)") from exc
    return content.lstrip("\ufeff")


def _data_lines(text: str) -> Iterable[tuple[int, list[str]]]:
    """(line number, cells) for every non-blank line that is not a ``#`` comment."""
    reader = csv.reader(io.StringIO(text))
    for cells in reader:
        if not cells or all(not c.strip() for c in cells):
            continue
        if cells[0].lstrip().startswith("#"):
            continue
        yield reader.line_num, [c.strip() for c in cells]


def is_fred_csv(text: str) -> bool:
    for _, cells in _data_lines(text):
        return len(cells) == 2 and cells[0].lower() in FRED_DATE_HEADERS
    return False


def parse_rate(raw: str) -> Decimal:
    """A percent rate as the sheet writes it ("6.125", "6.125%"), rounded to 3 decimals; ValueError if not."""
    value = raw.strip().removesuffix("%").strip()
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"rate {raw!r} is not a number") from exc
    if not number.is_finite() or not (0 <= number <= MAX_RATE):
        raise ValueError(f"rate {raw!r} is outside 0–25 %")
    return round_rate(number)


def parse_date(raw: str) -> dt.date:
    """ISO dates (FRED, most sheets) and US dates as spreadsheets export them (MM/DD/YYYY)."""
    value = raw.strip()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return dt.datetime.strptime(value, "%m/%d/%Y").date()
    except ValueError as exc:
        raise ValueError(f"date {raw!r} is not YYYY-MM-DD or MM/DD/YYYY") from exc


def parse_fred_csv(file: IO[bytes] | IO[str] | str | bytes) -> ParsedFredCsv:
    """A fredgraph CSV download: ``DATE,<ID>`` or ``observation_date,<ID>``; blank and ``.`` values skipped."""
    text = read_text(file)
    lines = iter(_data_lines(text))
    header = next(lines, None)
    if header is None:
        raise RateFileError("the file is empty")
    _, cells = header
    if len(cells) != 2 or cells[0].lower() not in FRED_DATE_HEADERS or not cells[1]:
        raise RateFileError(
            "not a FRED CSV: the header must be 'DATE,<SERIES>' or 'observation_date,<SERIES>', "
            f"got {','.join(cells)!r}"
        )
    parsed = ParsedFredCsv(series_code=cells[1].upper())
    seen: set[dt.date] = set()
    for line, row in lines:
        if len(row) != 2:
            parsed.errors.append(RowError(line, f"expected 2 columns, found {len(row)}"))
            continue
        try:
            date = dt.date.fromisoformat(row[0])
        except ValueError:
            parsed.errors.append(RowError(line, f"date {row[0]!r} is not YYYY-MM-DD"))
            continue
        if date in seen:
            parsed.errors.append(RowError(line, f"{date} appears twice"))
            continue
        seen.add(date)
        if row[1] in MISSING_VALUES:
            parsed.missing += 1
            continue
        try:
            parsed.observations.append((date, parse_rate(row[1])))
        except ValueError as exc:
            parsed.errors.append(RowError(line, str(exc)))
    return parsed


# -- the desk's rate sheet ------------------------------------------------------------------------------------

SHEET_KEY_HEADERS = {"series", "product", "product/series", "series/product", "product_series"}


@dataclass(frozen=True)
class ProductKey:
    product_type: str
    term_months: int


@dataclass
class RateSheetLine:
    line: int
    key: str
    date: dt.date
    rate: Decimal
    product: ProductKey | None  # set when the first column names a product ("Conforming 30") not a series


@dataclass
class ParsedRateSheet:
    lines: list[RateSheetLine] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def parse_product_key(value: str) -> ProductKey | None:
    """ "Conforming 30", "FHA-30yr", "va 15", "jumbo_30" → (product type, term bucket in months)."""
    match = PRODUCT_KEY.match(value.strip())
    if not match:
        return None
    name = match["product"].lower()
    product = PRODUCT_ALIASES.get(name, name)
    years = int(match["years"])
    if not 10 <= years <= 40:
        return None
    return ProductKey(product_type=ProductType(product), term_months=term_bucket(years * 12))


def parse_rate_sheet(file: IO[bytes] | IO[str] | str | bytes) -> ParsedRateSheet:
    """CSV with a header naming the columns product/series, date and rate (any order, any case)."""
    text = read_text(file)
    lines = iter(_data_lines(text))
    header = next(lines, None)
    if header is None:
        raise RateFileError("the file is empty")
    names = [c.lower() for c in header[1]]
    key_col = next((i for i, n in enumerate(names) if n in SHEET_KEY_HEADERS), None)
    if key_col is None or "date" not in names or "rate" not in names:
        raise RateFileError(
            f"the header must name the columns 'product' (or 'series'), 'date' and 'rate', got {','.join(header[1])!r}"
        )
    date_col, rate_col = names.index("date"), names.index("rate")
    parsed = ParsedRateSheet()
    seen: dict[tuple[str, dt.date], int] = {}
    for line, row in lines:
        if len(row) < len(names):
            parsed.errors.append(RowError(line, f"expected {len(names)} columns, found {len(row)}"))
            continue
        key = row[key_col]
        if not key:
            parsed.errors.append(RowError(line, "the product/series column is empty"))
            continue
        try:
            date = parse_date(row[date_col])
            rate = parse_rate(row[rate_col])
        except ValueError as exc:
            parsed.errors.append(RowError(line, str(exc)))
            continue
        product = parse_product_key(key)
        identity = (f"{product.product_type}-{product.term_months}" if product else key.upper(), date)
        if identity in seen:
            parsed.errors.append(RowError(line, f"{key} on {date} already appears on line {seen[identity]}"))
            continue
        seen[identity] = line
        parsed.lines.append(RateSheetLine(line=line, key=key, date=date, rate=rate, product=product))
    if not parsed.lines and not parsed.errors:
        raise RateFileError("the sheet has a header but no rates")
    return parsed
