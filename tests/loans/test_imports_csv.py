from __future__ import annotations

import datetime as dt
import io
import os
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from loans.models import Borrower, ConsentEvent, Loan, LoanImport
from loans.services.imports import loan_import_commit, loan_import_preview
from tests.factories import BranchFactory, LoanFactory, LoanOfficerFactory, OrgAdminFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

HEADER = (
    "Loan Number,Borrower First Name,Borrower Last Name,Borrower Email,Borrower Mobile,Mailing State,"
    "Email Consent,SMS Consent,SMS Consent Source,Loan Amount,Note Rate,Term,Note Date,Loan Type,"
    "Loan Purpose,Property Value,Credit Score,DTI,Loan Officer\n"
)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def admin(db):
    return OrgAdminFactory()


def upload(text: str | bytes, name: str = "export.csv") -> io.BytesIO:
    data = text.encode("utf-8") if isinstance(text, str) else text
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def preview(admin, text, **kwargs) -> LoanImport:
    return loan_import_preview(organization=admin.organization, file=upload(text), user=admin.user, **kwargs)


def good_csv(officer_email: str) -> str:
    return HEADER + (
        f'LN-1001,Maria,Lopez,maria@example.com,(312) 555-0142,IL,Y,Y,Signed e-consent 2023-10-02,"$412,000.00",'
        f"6.875%,360,10/16/2023,Conventional,Purchase,$520000,742,36.5,{officer_email}\n"
        f"LN-1002,James,O'Neil,james@example.com,312.555.0199,Illinois,yes,no,,850000,7.25,360,2024-03-01,"
        f"Conventional,NoCash-Out Refinance,1100000,780,30,{officer_email}\n"
    )


@time_machine.travel(dt.datetime(2025, 10, 1, 12, tzinfo=dt.UTC), tick=False)
def test_good_csv_previews_then_commits_exact_values(admin):
    officer = LoanOfficerFactory(organization=admin.organization, branch=BranchFactory(organization=admin.organization))
    loan_import = preview(admin, good_csv(officer.email))
    assert loan_import.status == LoanImport.Status.PREVIEWED
    assert (loan_import.total_rows, loan_import.created_count, loan_import.rejected_count) == (2, 2, 0)
    assert loan_import.errors == []
    assert not Loan.objects.exists()  # preview writes nothing

    loan_import = loan_import_commit(loan_import=loan_import)
    assert loan_import.status == LoanImport.Status.COMMITTED
    assert (loan_import.created_count, loan_import.updated_count, loan_import.unchanged_count) == (2, 0, 0)

    first = Loan.objects.select_related("borrower").get(loan_number="LN-1001")
    assert first.original_amount == Decimal("412000.00")
    assert first.note_rate == Decimal("6.875")
    assert first.note_date == dt.date(2023, 10, 16)
    assert first.first_payment_date == dt.date(2023, 12, 1)
    assert first.maturity_date == dt.date(2053, 11, 1)
    assert first.product_type == "conforming"
    assert first.property_value == Decimal("520000.00")
    assert first.property_value_date == dt.date(2023, 10, 16)
    assert first.dti == Decimal("36.50")
    assert first.loan_officer == officer
    assert first.branch == officer.branch
    assert first.source == Loan.Source.CSV
    assert first.borrower.mobile_phone == "+13125550142"
    assert first.borrower.timezone == "America/Chicago"
    assert first.borrower.sms_consent and first.borrower.sms_consent_source == "Signed e-consent 2023-10-02"
    second = Loan.objects.get(loan_number="LN-1002")
    assert second.product_type == "jumbo"  # 850,000 is above the 2024 conforming limit
    assert second.purpose == Loan.Purpose.RATE_TERM_REFI
    assert second.borrower.mailing_state == "IL"
    assert not second.borrower.sms_consent
    assert set(ConsentEvent.objects.values_list("channel", "action")) == {("email", "granted"), ("sms", "granted")}
    assert ConsentEvent.objects.count() == 3


def test_reimport_same_file_changes_nothing(admin):
    officer = LoanOfficerFactory(organization=admin.organization, branch=BranchFactory(organization=admin.organization))
    loan_import_commit(loan_import=preview(admin, good_csv(officer.email)))
    stamps = dict(Loan.objects.values_list("loan_number", "updated_at"))
    borrower_stamps = dict(Borrower.objects.values_list("pk", "updated_at"))
    events = ConsentEvent.objects.count()

    again = preview(admin, good_csv(officer.email))
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    again = loan_import_commit(loan_import=again)
    assert (again.created_count, again.updated_count, again.unchanged_count, again.rejected_count) == (0, 0, 2, 0)
    assert dict(Loan.objects.values_list("loan_number", "updated_at")) == stamps
    assert dict(Borrower.objects.values_list("pk", "updated_at")) == borrower_stamps
    assert ConsentEvent.objects.count() == events


def test_changed_row_is_updated_and_only_it(admin):
    officer = LoanOfficerFactory(organization=admin.organization, branch=BranchFactory(organization=admin.organization))
    loan_import_commit(loan_import=preview(admin, good_csv(officer.email)))
    before = Loan.objects.get(loan_number="LN-1002").updated_at
    changed = good_csv(officer.email).replace("6.875%", "6.750%")
    result = loan_import_commit(loan_import=preview(admin, changed))
    assert (result.created_count, result.updated_count, result.unchanged_count) == (0, 1, 1)
    assert Loan.objects.get(loan_number="LN-1001").note_rate == Decimal("6.750")
    assert Loan.objects.get(loan_number="LN-1002").updated_at == before


def test_bom_semicolons_and_encompass_field_ids(admin):
    text = "\ufeffFields.364;Fields.4000;Fields.4002;Fields.2;Fields.1109;Fields.3;Fields.4;Fields.748;Fields.1172\n"
    text += "7700123;Ana;Diaz;301,500.00;295,000.00;5.990;180;2021-06-30;FHA\n"
    loan_import = loan_import_commit(loan_import=preview(admin, text))
    assert loan_import.status == LoanImport.Status.COMMITTED, loan_import.errors
    loan = Loan.objects.get(loan_number="7700123")
    assert loan.original_amount == Decimal("301500.00")  # Fields.2 (total) wins over Fields.1109 (base)
    assert (loan.note_rate, loan.term_months, loan.product_type) == (Decimal("5.990"), 180, "fha")


def test_missing_required_columns_is_a_file_error(admin):
    loan_import = preview(admin, "Loan Number,Borrower First Name,Note Rate\nLN1,Ann,6.5\n")
    assert loan_import.status == LoanImport.Status.REJECTED
    [error] = loan_import.errors
    assert "Missing required columns" in error["message"]
    for column in ("original_amount", "term_months", "note_date"):
        assert column in error["message"]
    with pytest.raises(ValidationError):
        loan_import_commit(loan_import=loan_import)


BAD_ROWS = [
    ("LN-1,Ann,Lee,13/45/2023,400000,6.5,360", "Note Date", "not a real date"),
    ("LN-2,Ann,Lee,2023-02-30,400000,6.5,360", "Note Date", "not a real date"),
    ("LN-3,Ann,Lee,yesterday,400000,6.5,360", "Note Date", "not a date"),
    ("LN-4,Ann,Lee,2023-01-05,-400000,6.5,360", "Loan Amount", "may not be negative"),
    ("LN-5,Ann,Lee,2023-01-05,(400000),6.5,360", "Loan Amount", "may not be negative"),
    ("LN-6,Ann,Lee,2023-01-05,400000,65,360", "Note Rate", "rate out of range"),
    ("LN-7,Ann,Lee,2023-01-05,400000,6.5,999", "Term", "out of range"),
    ("LN-8,Ann,Lee,2023-01-05,400000.123,6.5,360", "Loan Amount", "more than 2 decimal places"),
    ("LN-9,,Lee,2023-01-05,400000,6.5,360", "Borrower First Name", "required value is missing"),
    ("LN-10,Ann,Lee,2099-01-05,400000,6.5,360", "Note Date", "in the future"),
    ("LN-11,Ann,Lee,2023-01-05,0,6.5,360", "Loan Amount", "more than zero"),
    ("LN-12,Ann,Lee,2023-01-05,400000,0.065,360", "Note Rate", "looks like a fraction"),
    ("LN-13,Ann,Lee,2023-01-05,400000,6.1234,360", "Note Rate", "more than 3 decimal places"),
]


@pytest.mark.parametrize(("row", "column", "reason"), BAD_ROWS)
def test_bad_values_reject_the_row_with_line_column_reason(admin, row, column, reason):
    text = "Loan Number,Borrower First Name,Borrower Last Name,Note Date,Loan Amount,Note Rate,Term\n"
    text += "LN-OK,Bob,Ray,2023-01-05,300000,6.5,360\n" + row + "\n"
    loan_import = preview(admin, text)
    assert loan_import.rejected_count == 1
    [error] = loan_import.errors
    assert (error["line"], error["column"]) == (3, column)
    assert reason in error["message"]
    result = loan_import_commit(loan_import=loan_import)
    assert result.status == LoanImport.Status.REJECTED
    assert not Loan.objects.exists()  # all-or-nothing without allow_partial


def test_partial_mode_writes_good_rows_and_reports_bad(admin):
    text = "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term\n"
    text += "LN-1,Bob Ray,2023-01-05,300000,6.5,360\nLN-2,Sue Kim,2023-01-05,300000,abc,360\n"
    result = loan_import_commit(loan_import=preview(admin, text), allow_partial=True)
    assert result.status == LoanImport.Status.COMMITTED
    assert (result.created_count, result.rejected_count) == (1, 1)
    assert result.errors[0]["line"] == 3 and result.errors[0]["column"] == "Note Rate"
    loan = Loan.objects.select_related("borrower").get()
    assert (loan.borrower.first_name, loan.borrower.last_name) == ("Bob", "Ray")


def test_duplicate_loan_numbers_reject_both_rows(admin):
    text = "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term\n"
    text += "LN-1,Bob Ray,2023-01-05,300000,6.5,360\nLN-2,Al Fox,2023-01-05,200000,6.5,360\n"
    text += "LN-1,Sue Kim,2023-02-05,310000,6.25,360\n"
    loan_import = preview(admin, text)
    assert loan_import.rejected_count == 2
    assert {e["line"] for e in loan_import.errors} == {2, 4}
    assert all("appears 2 times (lines 2, 4)" in e["message"] for e in loan_import.errors)
    result = loan_import_commit(loan_import=loan_import, allow_partial=True)
    assert list(Loan.objects.values_list("loan_number", flat=True)) == ["LN-2"]
    assert result.created_count == 1


def test_unknown_loan_officer_is_a_row_error(admin):
    text = "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term,LO NMLS ID\n"
    text += "LN-1,Bob Ray,2023-01-05,300000,6.5,360,999999\n"
    loan_import = preview(admin, text)
    assert loan_import.errors[0]["column"] == "LO NMLS ID"
    assert "no loan officer with NMLS id '999999'" in loan_import.errors[0]["message"]


def test_officer_of_another_org_is_unknown(admin):
    stranger = LoanOfficerFactory()
    text = "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term,Loan Officer\n"
    text += f"LN-1,Bob Ray,2023-01-05,1,6.5,360,{stranger.email}\n"
    loan_import = preview(admin, text)
    assert "no loan officer with email" in loan_import.errors[0]["message"]


def test_loan_officer_import_defaults_to_self_and_cannot_touch_others_loans(officer):
    colleague = LoanOfficerFactory(organization=officer.organization, branch=officer.branch)
    LoanFactory(loan_officer=colleague, loan_number="THEIRS")
    text = "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term\n"
    text += "MINE,Bob Ray,2023-01-05,300000,6.5,360\nTHEIRS,Sue Kim,2023-01-05,300000,6.5,360\n"
    handle = upload(text)
    result = loan_import_preview(organization=officer.organization, file=handle, user=officer.user)
    assert result.loan_officer == officer
    assert [e["loan_number"] for e in result.errors] == ["THEIRS"]
    assert "not yours to update" in result.errors[0]["message"]
    loan_import_commit(loan_import=result, allow_partial=True)
    assert Loan.objects.get(loan_number="MINE").loan_officer == officer
    assert Loan.objects.get(loan_number="THEIRS").borrower.first_name != "Sue"


def test_garbage_binary_file_is_rejected(admin):
    garbage = os.urandom(2 * 1024 * 1024)
    loan_import = preview(admin, garbage, format="csv")
    assert loan_import.status == LoanImport.Status.REJECTED
    assert "binary file" in loan_import.errors[0]["message"] or "not UTF-8" in loan_import.errors[0]["message"]
    assert not Loan.objects.exists()


def test_latin1_file_is_rejected_with_encoding_hint(admin):
    text = "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term\nLN-1,José Núñez,2023-01-05,1,6.5,360\n"
    loan_import = preview(admin, text.encode("latin-1"))
    assert loan_import.status == LoanImport.Status.REJECTED
    assert "not UTF-8" in loan_import.errors[0]["message"]


def test_commit_twice_is_refused(admin):
    text = "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term\nLN-1,Bob Ray,2023-01-05,300000,6.5,360\n"
    loan_import = loan_import_commit(loan_import=preview(admin, text))
    with pytest.raises(ValidationError):
        loan_import_commit(loan_import=loan_import)
    assert Loan.objects.count() == 1


def test_hand_set_timezone_and_upb_date_survive_a_reimport(admin):
    text = "Loan Number,Borrower Name,Mailing State,Note Date,Loan Amount,Note Rate,Term,Current UPB\n"
    text += 'LN-1,Bob Ray,IN,2023-01-05,300000,6.5,360,"$290,000.00"\n'
    with time_machine.travel(dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC), tick=False):
        loan_import_commit(loan_import=preview(admin, text))
    loan = Loan.objects.select_related("borrower").get()
    # Indiana has several zones and the file gives no ZIP: unknown (outreach uses the hours common to all of them)
    assert (loan.borrower.timezone, loan.upb_as_of) == ("", dt.date(2025, 3, 1))
    Borrower.objects.update(timezone="America/Chicago")  # a county in Indiana's Central-time corner
    with time_machine.travel(dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC), tick=False):
        again = loan_import_commit(loan_import=preview(admin, text))
    assert again.unchanged_count == 1
    loan.refresh_from_db()
    assert (Borrower.objects.get().timezone, loan.upb_as_of) == ("America/Chicago", dt.date(2025, 3, 1))
    moved = text.replace(",IN,", ",OH,").replace("290,000.00", "288,500.00")
    with time_machine.travel(dt.datetime(2025, 5, 1, 12, tzinfo=dt.UTC), tick=False):
        assert loan_import_commit(loan_import=preview(admin, moved)).updated_count == 1
    loan.refresh_from_db()
    assert (Borrower.objects.get().timezone, loan.current_upb, loan.upb_as_of) == (
        "America/New_York",
        Decimal("288500.00"),
        dt.date(2025, 5, 1),
    )


@time_machine.travel(dt.datetime(2025, 10, 1, 12, tzinfo=dt.UTC), tick=False)
def test_both_import_paths_write_the_current_rate_mip_and_county(admin):
    """The batch path and the COPY path (PostgreSQL) write the same loan columns: an ARM's current rate, an FHA
    loan's annual MIP and the property's county from its ZIP are not lost on either."""
    officer = LoanOfficerFactory(organization=admin.organization, branch=BranchFactory(organization=admin.organization))
    text = HEADER.replace("Loan Officer\n", "Loan Officer,Current Rate,Annual MIP,Property ZIP\n") + (
        f'LN-2001,Ana,Ruiz,ana@example.com,,IL,Y,N,,"300,000",5.25,360,2021-05-01,FHA,Purchase,400000,700,30,'
        f"{officer.email},6.125,0.55,60611\n"
    )
    loan_import = loan_import_commit(loan_import=preview(admin, text))
    assert loan_import.errors == []
    loan = Loan.objects.get(loan_number="LN-2001")
    assert (loan.current_rate, loan.annual_mip, loan.property_county_fips) == (
        Decimal("6.125"),
        Decimal("0.550"),
        "17031",
    )
