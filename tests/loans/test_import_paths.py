"""What the PostgreSQL COPY path and the SQLite batch path must agree on, with tiny chunks so that every
rule meets a chunk boundary (the suite runs on both databases; each test must pass on each)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine

from loans.models import Borrower, ConsentEvent, Loan, LoanImport
from loans.services import import_copy, imports
from loans.services.imports import loan_import_commit, loan_import_preview
from tests.factories import BorrowerFactory, BranchFactory, BranchManagerFactory, LoanFactory, OrgAdminFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root", "tiny_chunks")]

HEADER = "Loan Number,Borrower First Name,Borrower Last Name,Borrower Email,Borrower Mobile,Email Consent,"
HEADER += "Loan Amount,Note Rate,Term,Note Date\n"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(import_copy, "CHUNK_ROWS", 2)
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)


@pytest.fixture
def admin(db):
    return OrgAdminFactory()


def run(profile, text: str, *, commit: bool = True, allow_partial: bool = False) -> LoanImport:
    handle = io.BytesIO(text.encode())
    handle.name = "export.csv"
    loan_import = loan_import_preview(organization=profile.organization, file=handle, user=profile.user)
    return loan_import_commit(loan_import=loan_import, allow_partial=allow_partial) if commit else loan_import


def counts(loan_import: LoanImport) -> tuple[int, int, int, int]:
    return (
        loan_import.created_count,
        loan_import.updated_count,
        loan_import.unchanged_count,
        loan_import.rejected_count,
    )


def row(number: str, first: str = "Ann", last: str = "Lee", email: str = "", mobile: str = "", consent: str = "N"):
    return f"{number},{first},{last},{email},{mobile},{consent},300000,6.5,360,2023-01-05\n"


def test_duplicates_in_different_chunks_reject_both_rows_and_nothing_else(admin):
    text = HEADER + row("A1") + row("A2") + row("A3") + row("A1", first="Bo") + row("A5")
    loan_import = run(admin, text, allow_partial=True)
    assert counts(loan_import) == (3, 0, 0, 2)
    assert sorted(error["line"] for error in loan_import.errors) == [2, 5]
    assert all("appears 2 times (lines 2, 5)" in error["message"] for error in loan_import.errors)
    assert sorted(Loan.objects.values_list("loan_number", flat=True)) == ["A2", "A3", "A5"]


def test_rows_with_the_same_email_and_name_share_one_new_borrower_across_chunks(admin):
    text = HEADER + row("B1", email="ann@example.com", consent="Y") + row("B2", email="sue@example.com")
    text += row("B3", email="ann@example.com", consent="Y") + row("B4", first="Ann", last="Lee")
    loan_import = run(admin, text)
    assert counts(loan_import) == (4, 0, 0, 0)
    ann = Loan.objects.get(loan_number="B1").borrower
    assert Loan.objects.get(loan_number="B3").borrower == ann
    assert Loan.objects.get(loan_number="B4").borrower != ann  # no email: a borrower of its own
    assert Borrower.objects.count() == 3
    assert ConsentEvent.objects.filter(borrower=ann, channel="email", action="granted").count() == 1


def test_new_loans_in_one_chunk_share_a_new_borrower_and_one_consent_event(admin):
    text = HEADER + row("C1", email="ann@example.com", consent="Y") + row("C2", email="ann@example.com", consent="Y")
    assert counts(run(admin, text)) == (2, 0, 0, 0)
    borrower = Borrower.objects.get()
    assert set(borrower.loans.values_list("loan_number", flat=True)) == {"C1", "C2"}
    [event] = ConsentEvent.objects.all()
    assert event.detail["loan_number"] == "C1" and event.detail["line"] == 2


def test_one_borrower_on_two_loans_changes_once(admin):
    text = HEADER + row("D1", email="ann@example.com", mobile="3125550100")
    text += row("D2", email="ann@example.com", mobile="3125550100")
    run(admin, text)
    stamp = Borrower.objects.get().updated_at
    moved = text.replace("3125550100", "3125550177")
    with time_machine.travel(dt.datetime(2030, 1, 1, tzinfo=dt.UTC)):
        loan_import = run(admin, moved)
    assert counts(loan_import) == (0, 1, 1, 0)  # the second row finds the borrower already changed
    borrower = Borrower.objects.get()
    assert borrower.mobile_phone == "+13125550177" and borrower.updated_at > stamp


def test_existing_borrower_is_matched_by_email_and_name_and_updated(admin):
    stored = BorrowerFactory(
        organization=admin.organization, first_name="Ann", last_name="Lee", email="ann@example.com",
        email_consent=False, email_consent_at=None, mobile_phone="",
    )  # fmt: skip
    loan_import = run(admin, HEADER + row("E1", email="ann@example.com", mobile="3125550100", consent="Y"))
    assert counts(loan_import) == (1, 0, 0, 0)
    stored.refresh_from_db()
    assert Loan.objects.get().borrower == stored
    assert (stored.mobile_phone, stored.email_consent) == ("+13125550100", True)
    assert stored.email_consent_at is not None
    assert ConsentEvent.objects.get().borrower == stored


def test_preview_counts_equal_the_commit_and_write_nothing(admin):
    run(admin, HEADER + row("F1") + row("F2") + row("F3"))
    text = HEADER + row("F1") + row("F2").replace("6.5", "6.25") + row("F4") + row("F5").replace("6.5", "abc")
    preview = run(admin, text, commit=False)
    assert counts(preview) == (1, 1, 1, 1)
    assert Loan.objects.count() == 3
    assert counts(loan_import_commit(loan_import=preview, allow_partial=True)) == (1, 1, 1, 1)
    assert Loan.objects.count() == 4


def test_branch_manager_cannot_overwrite_another_branchs_loan(admin):
    manager = BranchManagerFactory(
        organization=admin.organization, branch=BranchFactory(organization=admin.organization)
    )
    LoanFactory(loan_number="G2", loan_officer__organization=admin.organization, loan_officer__branch=None, branch=None)
    text = HEADER + row("G1") + row("G2", first="Sue") + row("G3")
    loan_import = run(manager, text, allow_partial=True)
    assert counts(loan_import) == (2, 0, 0, 1)
    [error] = loan_import.errors
    assert (error["line"], error["column"], error["loan_number"]) == (3, "Loan Number", "G2")
    assert "not yours to update" in error["message"]
    assert Loan.objects.get(loan_number="G2").borrower.first_name != "Sue"
    assert Loan.objects.get(loan_number="G1").branch == manager.branch


# --- the row digest: a row the last import took, byte for byte, is unchanged without being parsed -------------


def test_every_written_loan_remembers_its_row_and_the_same_file_again_changes_nothing(admin):
    text = HEADER + row("H1", email="ann@example.com", consent="Y") + row("H2") + row("H3")
    assert counts(run(admin, text)) == (3, 0, 0, 0)
    digests = dict(Loan.objects.values_list("loan_number", "import_digest"))
    assert all(len(digest) == 32 for digest in digests.values()) and len(set(digests.values())) == 3
    before = {loan.pk: loan.updated_at for loan in Loan.objects.all()}
    assert counts(run(admin, text)) == (0, 0, 3, 0)
    assert {loan.pk: loan.updated_at for loan in Loan.objects.all()} == before
    assert ConsentEvent.objects.count() == 1


def test_what_the_app_changed_since_is_kept_when_the_same_row_comes_again(admin):
    text = HEADER + row("J1") + row("J2")
    run(admin, text)
    Borrower.objects.filter(loans__loan_number="J2").update(first_name="Jo")  # a typo fixed in the app
    assert counts(run(admin, text)) == (0, 0, 2, 0)
    assert Loan.objects.get(loan_number="J2").borrower.first_name == "Jo"


def test_a_changed_row_is_checked_written_and_remembered(admin):
    run(admin, HEADER + row("K1") + row("K2") + row("K3"))
    old = Loan.objects.get(loan_number="K2").import_digest
    text = HEADER + row("K1") + row("K2", first="Bea") + row("K3").replace("6.5", "abc")
    loan_import = run(admin, text, allow_partial=True)
    assert counts(loan_import) == (0, 1, 1, 1)
    assert [error["loan_number"] for error in loan_import.errors] == ["K3"]
    k2 = Loan.objects.get(loan_number="K2")
    assert k2.borrower.first_name == "Bea" and k2.import_digest not in ("", old)
    assert Loan.objects.get(loan_number="K3").import_digest  # the rejected row left the stored one alone
    assert counts(run(admin, HEADER + row("K1") + row("K2", first="Bea") + row("K3"))) == (0, 0, 3, 0)


def test_a_remembered_row_given_twice_is_rejected_not_unchanged(admin):
    run(admin, HEADER + row("L1") + row("L2"))
    loan_import = run(admin, HEADER + row("L1") + row("L2") + row("L1"), allow_partial=True)
    assert counts(loan_import) == (0, 0, 1, 2)
    assert {(error["line"], error["loan_number"]) for error in loan_import.errors} == {(2, "L1"), (4, "L1")}


def test_the_same_values_under_another_column_order_are_compared_value_by_value(admin):
    run(admin, HEADER + row("M1"))
    old = Loan.objects.get().import_digest
    columns = HEADER.strip().split(",")
    values = row("M1").strip().split(",")
    reordered = ",".join(reversed(columns)) + "\n" + ",".join(reversed(values)) + "\n"
    assert counts(run(admin, reordered)) == (0, 0, 1, 0)
    assert Loan.objects.get().import_digest not in ("", old)  # remembered under the new layout


def test_a_branch_manager_gets_no_shortcut_into_another_branchs_loan(admin):
    run(admin, HEADER + row("N1") + row("N2"))
    other = BranchFactory(organization=admin.organization)
    Loan.objects.filter(loan_number="N2").update(branch=other)
    manager = BranchManagerFactory(
        organization=admin.organization, branch=BranchFactory(organization=admin.organization)
    )
    Loan.objects.filter(loan_number="N1").update(branch=manager.branch)
    loan_import = run(manager, HEADER + row("N1") + row("N2"), allow_partial=True)
    assert counts(loan_import) == (0, 0, 1, 1)
    assert [error["loan_number"] for error in loan_import.errors] == ["N2"]
    assert "not yours to update" in loan_import.errors[0]["message"]
