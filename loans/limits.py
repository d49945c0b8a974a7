"""Loan limits by county (DESIGN §5, §7): FHFA's conforming limit decides conforming or jumbo on today's
balance, and an FHA product must stay within the county's FHA limit.

"Today's limit" is the newest loaded year not after the date asked about; a loan whose county is unknown (no
ZIP, or a ZIP outside the files) gets that year's national baseline. High-balance conforming (above the baseline,
within a high-cost county's limit) is conforming, not jumbo.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.db import transaction

from loans.geo import CFPB_2025, FHFA_2026

# FHFA baseline conforming limits (one unit), by year: a county without its own limit has this one.
CONFORMING_BASELINE = {
    2016: Decimal("417000"),
    2017: Decimal("424100"),
    2018: Decimal("453100"),
    2019: Decimal("484350"),
    2020: Decimal("510400"),
    2021: Decimal("548250"),
    2022: Decimal("647200"),
    2023: Decimal("726200"),
    2024: Decimal("766550"),
    2025: Decimal("806500"),
    2026: Decimal("832750"),
}
# HUD's FHA floor (one unit) in low-cost counties, by year.
FHA_FLOOR = {2025: Decimal("524225")}


def _for_year(table: dict[int, Decimal], year: int) -> Decimal:
    known = [y for y in table if y <= year]
    return table[max(known)] if known else table[min(table)]


def conforming_baseline(year: int) -> Decimal:
    return _for_year(CONFORMING_BASELINE, year)


def limit_year(*, field: str, as_of: dt.date) -> int | None:
    """The newest year with ``field`` (conforming_limit / fha_limit) loaded, not after ``as_of``'s year."""
    from loans.models import LoanLimit

    return (
        LoanLimit.objects.filter(year__lte=as_of.year, **{f"{field}__isnull": False})
        .order_by("-year")
        .values_list("year", flat=True)
        .first()
    )


def conforming_limit(*, county_fips: str, as_of: dt.date) -> Decimal:
    """Today's conforming limit for the county, else the baseline of the same year."""
    from loans.models import LoanLimit

    year = limit_year(field="conforming_limit", as_of=as_of) or as_of.year
    found = (
        LoanLimit.objects.filter(year=year, county_fips=county_fips, conforming_limit__isnull=False)
        .values_list("conforming_limit", flat=True)
        .first()
        if county_fips
        else None
    )
    return found if found is not None else conforming_baseline(year)


def fha_limit(*, county_fips: str, as_of: dt.date) -> Decimal:
    """Today's FHA limit for the county, else the FHA floor of the same year."""
    from loans.models import LoanLimit

    year = limit_year(field="fha_limit", as_of=as_of) or as_of.year
    found = (
        LoanLimit.objects.filter(year=year, county_fips=county_fips, fha_limit__isnull=False)
        .values_list("fha_limit", flat=True)
        .first()
        if county_fips
        else None
    )
    return found if found is not None else _for_year(FHA_FLOOR, year)


# --- loading a yearly file ---------------------------------------------------------------------------------


class LimitFileError(ValueError):
    """The file is not one of the known limit layouts, or a row is malformed (line numbers in the message)."""


@dataclass(frozen=True)
class LimitRow:
    county_fips: str
    state: str
    county_name: str
    conforming: Decimal | None
    fha: Decimal | None


# Header → (fips, state, name, conforming, fha) columns of the two published layouts.
LAYOUTS = {
    "fhfa": ("county_fips", "state", "county_name", "limit_1_unit", None),
    "cfpb": ("Complete FIPS", "State", "County Name", "GSE limit", "FHA limit"),
}


def _amount(text: str, line: int, column: str) -> Decimal | None:
    cleaned = (text or "").replace(",", "").replace("$", "").strip()
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise LimitFileError(f"line {line}: {column} {text!r} is not an amount") from None
    if not value.is_finite() or value <= 0:
        raise LimitFileError(f"line {line}: {column} {text!r} must be a positive amount")
    return value


def parse_limit_file(text: str) -> list[LimitRow]:
    """Rows of an FHFA county list (county_fips, state, county_name, limit_1_unit, …) or a CFPB county-limit
    file (State, Complete FIPS, County Name, GSE limit, FHA limit, …); ``#`` lines are comments."""
    lines = [line for line in io.StringIO(text) if not line.startswith("#")]
    reader = csv.DictReader(lines)
    header = set(reader.fieldnames or [])
    layout = next((cols for cols in LAYOUTS.values() if {c for c in cols if c} <= header), None)
    if layout is None:
        raise LimitFileError("unknown layout: expected FHFA (county_fips, limit_1_unit) or CFPB (Complete FIPS)")
    fips_col, state_col, name_col, conforming_col, fha_col = layout
    rows = []
    for number, row in enumerate(reader, start=2):
        fips = (row.get(fips_col) or "").strip().zfill(5)
        if not fips.isdigit() or len(fips) != 5:
            raise LimitFileError(f"line {number}: county FIPS {row.get(fips_col)!r} is not 5 digits")
        rows.append(
            LimitRow(
                county_fips=fips,
                state=(row.get(state_col) or "").strip().upper()[:2],
                county_name=(row.get(name_col) or "").strip()[:100],
                conforming=_amount(row.get(conforming_col, ""), number, conforming_col),
                fha=_amount(row.get(fha_col, ""), number, fha_col) if fha_col else None,
            )
        )
    if not rows:
        raise LimitFileError("the file has no counties")
    return rows


@transaction.atomic
def loan_limits_load(*, file: IO[Any] | str | Path, year: int, source: str = "", model: Any = None) -> int:
    """Load one year's county limits (all rows or none); a rerun changes nothing. Returns the rows written.

    A CFPB file sets both limits; an FHFA file sets the conforming limit and keeps an FHA limit already loaded.
    ``model`` lets a data migration pass its historical LoanLimit.
    """
    if model is None:
        from loans.models import LoanLimit as model  # noqa: N813
    if isinstance(file, Path):
        text, source = file.read_text(encoding="utf-8"), source or file.name
    elif isinstance(file, str):
        text = file
    else:
        raw = file.read()
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    rows = parse_limit_file(text)
    existing = {row.county_fips: row for row in model.objects.filter(year=year)}
    created, changed = [], []
    fields = ["state", "county_name", "source", "conforming_limit", "fha_limit"]
    for row in rows:
        current = existing.get(row.county_fips) or model(year=year, county_fips=row.county_fips)
        values: dict[str, Any] = {"state": row.state, "county_name": row.county_name, "source": source[:300]}
        if row.conforming is not None:
            values["conforming_limit"] = row.conforming
        if row.fha is not None:
            values["fha_limit"] = row.fha
        if current.pk is not None and all(getattr(current, k) == v for k, v in values.items()):
            continue
        for name, value in values.items():
            setattr(current, name, value)
        (changed if current.pk is not None else created).append(current)
    model.objects.bulk_create(created, batch_size=1000)
    model.objects.bulk_update(changed, fields, batch_size=500)
    return len(created) + len(changed)


def shipped_limits_load(model: Any = None) -> int:
    """The files shipped in loans/data: FHA (and GSE) limits of 2025, FHFA conforming limits of 2026."""
    return loan_limits_load(file=CFPB_2025, year=2025, model=model) + loan_limits_load(
        file=FHFA_2026, year=2026, model=model
    )


def loans_assign_counties() -> int:
    """Give every loan with a property ZIP and no county its county FIPS (from the ZIP); one UPDATE per county.
    For loans imported before counties were kept. Returns the loans updated."""
    from collections import defaultdict

    from loans.geo import zip_place
    from loans.models import Loan

    zips = Loan.objects.filter(property_county_fips="").exclude(property_zip="").values_list("property_zip", flat=True)
    by_county: dict[str, list[str]] = defaultdict(list)
    for value in set(zips):
        place = zip_place(value)
        if place is not None and place.county_fips:
            by_county[place.county_fips].append(value)
    updated = 0
    for fips, values in by_county.items():
        updated += Loan.objects.filter(property_county_fips="", property_zip__in=values).update(
            property_county_fips=fips
        )
    return updated
