"""The FRED CSV importer on the real shipped files, and the rate-sheet parser."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from core.choices import ProductType
from rates.importers import RateFileError, is_fred_csv, parse_fred_csv, parse_product_key, parse_rate_sheet
from rates.models import RateObservation, RateSeries
from rates.services import rates_import_fred_csv, rates_load_shipped_history

DATA = Path(__file__).resolve().parents[2] / "rates" / "data"

# (file, header style, rows, blank values, first date, last date, last value) — counted from the files.
SHIPPED = [
    ("OBMMIC30YF.csv", "observation_date", 1304, 59, "2020-09-28", "2025-09-25", "6.345"),
    ("OBMMIFHA30YF.csv", "observation_date", 1304, 59, "2020-09-28", "2025-09-25", "6.133"),
    ("OBMMIJUMBO30YF.csv", "observation_date", 1304, 59, "2020-09-28", "2025-09-25", "6.539"),
    ("OBMMIVA30YF.csv", "observation_date", 1304, 59, "2020-09-28", "2025-09-25", "5.897"),
    ("MORTGAGE30US.csv", "observation_date", 2877, 0, "1971-04-02", "2026-05-14", "6.360"),
    ("MORTGAGE15US.csv", "DATE", 1724, 0, "1991-08-30", "2024-09-05", "5.470"),
]


@pytest.mark.parametrize(("name", "header", "rows", "blank", "first", "last", "value"), SHIPPED)
def test_parse_real_shipped_file(name, header, rows, blank, first, last, value):
    text = (DATA / name).read_text()
    assert text.startswith("# source:")
    assert text.splitlines()[1].split(",")[0] == header  # both header styles are covered by the real files

    parsed = parse_fred_csv(text)

    assert parsed.series_code == name.removesuffix(".csv")
    assert (parsed.rows, parsed.missing, len(parsed.observations)) == (rows, blank, rows - blank)
    assert parsed.errors == []
    assert parsed.observations[0][0] == dt.date.fromisoformat(first)
    assert parsed.observations[-1] == (dt.date.fromisoformat(last), Decimal(value))


@pytest.mark.django_db
def test_load_shipped_history_stores_exact_counts_and_is_idempotent():
    results = rates_load_shipped_history()

    assert {code: r.created for code, r in results.items()} == {
        "OBMMIC30YF": 1245,
        "OBMMIFHA30YF": 1245,
        "OBMMIJUMBO30YF": 1245,
        "OBMMIVA30YF": 1245,
        "MORTGAGE30US": 2877,
        "MORTGAGE15US": 1724,
    }
    assert RateObservation.objects.filter(series__code="OBMMIC30YF").count() == 1304 - 59
    assert not RateObservation.objects.filter(series__code="OBMMIC30YF", date=dt.date(2020, 10, 12)).exists()
    assert RateSeries.objects.get(code="OBMMIC30YF").fetch_enabled is True

    again = rates_load_shipped_history()
    assert {r.created + r.revised for r in again.values()} == {0}
    assert RateObservation.objects.count() == 4 * 1245 + 2877 + 1724


def test_date_header_style_with_dot_and_blank_values():
    parsed = parse_fred_csv("DATE,MORTGAGE30US\n2024-01-04,6.62\n2024-01-11,.\n2024-01-18,\n2024-01-25,6.69\n")
    assert parsed.series_code == "MORTGAGE30US"
    assert parsed.observations == [(dt.date(2024, 1, 4), Decimal("6.620")), (dt.date(2024, 1, 25), Decimal("6.690"))]
    assert parsed.missing == 2


def test_bom_crlf_and_bytes_are_read():
    parsed = parse_fred_csv("\ufeffobservation_date,OBMMIC30YF\r\n2025-09-25,6.345\r\n".encode())
    assert parsed.observations == [(dt.date(2025, 9, 25), Decimal("6.345"))]


def test_bad_rows_are_reported_with_line_numbers():
    parsed = parse_fred_csv(
        "# source: test\nobservation_date,OBMMIC30YF\n2025-09-24,6.285\n2025-13-01,6.3\n2025-09-25,x\n"
    )
    assert [str(e) for e in parsed.errors] == [
        "line 4: date '2025-13-01' is not YYYY-MM-DD",
        "line 5: rate 'x' is not a number",
    ]


@pytest.mark.django_db
def test_a_file_with_a_bad_row_imports_nothing():
    with pytest.raises(RateFileError, match="line 3: rate '6,3' is not a number"):
        rates_import_fred_csv(file='DATE,OBMMIC30YF\n2025-09-24,6.285\n2025-09-25,"6,3"\n', label="bad.csv")
    assert not RateObservation.objects.exists()


def test_not_a_fred_csv():
    assert not is_fred_csv("product,date,rate\nConforming 30,2026-11-20,6.125\n")
    with pytest.raises(RateFileError, match="not a FRED CSV"):
        parse_fred_csv("product,date,rate\n")


@pytest.mark.django_db
def test_import_rates_command_loads_real_files_both_headers(capsys):
    call_command("import_rates", str(DATA / "MORTGAGE15US.csv"), str(DATA / "OBMMIVA30YF.csv"))
    out = capsys.readouterr().out
    assert "MORTGAGE15US.csv: MORTGAGE15US — 1724 rows, 0 without a value skipped; stored 1724 new" in out
    assert "OBMMIVA30YF.csv: OBMMIVA30YF — 1304 rows, 59 without a value skipped; stored 1245 new" in out
    call_command("import_rates", str(DATA / "OBMMIVA30YF.csv"))
    assert "stored 0 new, 0 revised, 1245 unchanged" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Conforming 30", (ProductType.CONFORMING, 360)),
        ("FHA-30yr", (ProductType.FHA, 360)),
        ("va 15", (ProductType.VA, 180)),
        ("JUMBO_30 YEAR", (ProductType.JUMBO, 360)),
        ("conf20", (ProductType.CONFORMING, 360)),
        ("OBMMIC30YF", None),
        ("USDA 5", None),
    ],
)
def test_product_keys(key, expected):
    parsed = parse_product_key(key)
    assert ((parsed.product_type, parsed.term_months) if parsed else None) == expected


def test_rate_sheet_parse_with_errors():
    sheet = (
        "Rate,Date,Product\n"
        "6.125%,2026-11-20,Conforming 30\n"
        "5.875,11/20/2026,FHA 30\n"
        "abc,2026-11-20,VA 30\n"
        "6.000,2026-02-30,Jumbo 30\n"
        "6.250,2026-11-20,conforming-30\n"
        ",,\n"
        "6.5,2026-11-20\n"
    )
    parsed = parse_rate_sheet(sheet)
    assert [(line.line, line.key, line.date, line.rate) for line in parsed.lines] == [
        (2, "Conforming 30", dt.date(2026, 11, 20), Decimal("6.125")),
        (3, "FHA 30", dt.date(2026, 11, 20), Decimal("5.875")),
    ]
    assert [str(e) for e in parsed.errors] == [
        "line 4: rate 'abc' is not a number",
        "line 5: date '2026-02-30' is not YYYY-MM-DD or MM/DD/YYYY",
        "line 6: conforming-30 on 2026-11-20 already appears on line 2",
        "line 8: expected 3 columns, found 2",
    ]


def test_rate_sheet_needs_its_columns():
    with pytest.raises(RateFileError, match="must name the columns"):
        parse_rate_sheet("name,when,value\nx,2026-11-20,6\n")
