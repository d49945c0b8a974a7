from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loans.models import Loan, LoanImport
from tests.conftest import client_for
from tests.factories import LoanOfficerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

CSV = (
    "Loan #,Borrower Name,Closing Date,Note Amount,Interest Rate,Term\n"
    'V-1,Bob Ray,10/16/2023,"$300,000",6.875%,360\n'
    "V-2,Sue Kim,2023-11-02,250000,not-a-rate,360\n"
)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def upload(client, text=CSV, name="export.csv"):
    return client.post(reverse("loans:import_start"), {"file": SimpleUploadedFile(name, text.encode()), "format": ""})


def test_officer_upload_preview_confirm_summary(officer_client, officer):
    page = officer_client.get(reverse("loans:import_start"))
    assert page.status_code == 200
    assert b'href="/imports/"' in page.content  # nav link

    response = upload(officer_client)
    loan_import = LoanImport.objects.get()
    assert response.status_code == 302 and response.url == reverse("loans:import_preview", args=[loan_import.pk])
    preview = officer_client.get(response.url)
    body = preview.content.decode()
    assert preview.status_code == 200
    assert "V-1" in body and "Bob" in body  # first rows
    assert "Interest Rate" in body and "not a number" in body  # the per-row error: column and reason
    assert ">3<" in body  # its line
    assert not Loan.objects.exists()

    # Confirm without "import valid rows": all-or-nothing, so nothing is written.
    done = officer_client.post(reverse("loans:import_commit", args=[loan_import.pk]))
    assert done.url == reverse("loans:import_summary", args=[loan_import.pk])
    summary = officer_client.get(done.url).content.decode()
    assert "Nothing was imported" in summary and "not a number" in summary
    assert not Loan.objects.exists()


def test_partial_confirm_imports_valid_rows_for_the_officer(officer_client, officer):
    upload(officer_client)
    loan_import = LoanImport.objects.get()
    officer_client.post(reverse("loans:import_commit", args=[loan_import.pk]), {"allow_partial": "on"})
    summary = officer_client.get(reverse("loans:import_summary", args=[loan_import.pk])).content.decode()
    assert "1 created" in summary and "1 rejected" in summary
    assert ">3<" in summary and "not a number" in summary
    loan = Loan.objects.get()
    assert (loan.loan_number, loan.loan_officer) == ("V-1", officer)
    errors = officer_client.get(reverse("loans:import_errors_csv", args=[loan_import.pk]))
    assert errors["Content-Type"].startswith("text/csv")
    assert b"3,Interest Rate,V-2," in errors.content


def test_manager_sees_file_level_rejection(manager_client):
    upload(manager_client, text="just,some\nrandom,columns\n")
    loan_import = LoanImport.objects.get()
    page = manager_client.get(reverse("loans:import_preview", args=[loan_import.pk]), follow=True)
    assert page.redirect_chain == [(reverse("loans:import_summary", args=[loan_import.pk]), 302)]
    body = page.content.decode()
    assert "Nothing was imported: the whole file was rejected. Missing required columns" in body
    # A whole-file rejection is not "Rows 0 / Rejected 0", its message ends once, and it points to the app's help
    # page, not to a repository path the user cannot open (all three were wrong before issue 12).
    assert '<div class="label">Rows</div>' not in body and '<div class="label">Rejected</div>' not in body
    assert ".." not in body.replace("...", "")
    assert "docs/import-format.md" not in body
    assert f'href="{reverse("loans:import_help")}"' in body
    start = manager_client.get(reverse("loans:import_start")).content.decode()
    assert "whole file rejected" in start


def test_a_header_only_file_is_rejected_not_valid(officer_client):
    """Before issue 12 a header without rows said "Every row is valid" and offered Import."""
    upload(officer_client, text="Loan #,Borrower Name,Closing Date,Note Amount,Interest Rate,Term\n")
    loan_import = LoanImport.objects.get()
    assert loan_import.status == LoanImport.Status.REJECTED
    page = officer_client.get(reverse("loans:import_preview", args=[loan_import.pk]), follow=True)
    body = page.content.decode()
    assert "Every row is valid" not in body
    assert "The file has no loan rows: only a header line." in body
    assert 'type="submit">Import<' not in body


def test_rows_rejected_against_the_database_show_no_ok_chip(officer_client, officer):
    """An unknown officer, a duplicated loan number and another officer's loan are found by the checked run, not by
    parsing: those rows were shown "OK" beside the rejected list before issue 12."""
    colleague = LoanOfficerFactory(organization=officer.organization, branch=officer.branch)
    from tests.factories import LoanFactory

    LoanFactory(loan_officer=colleague, loan_number="THEIRS-1")
    text = (
        "Loan #,Borrower Name,Closing Date,Note Amount,Interest Rate,Term,Loan Officer\n"
        "OK-1,Bob Ray,10/16/2023,300000,6.875%,360,\n"
        "DUP-1,Ann Lee,10/16/2023,300000,6.875%,360,\n"
        "DUP-1,Ann Lee,10/16/2023,300000,6.875%,360,\n"
        "NOBODY-1,Al Diaz,10/16/2023,300000,6.875%,360,ghost@nowhere.example\n"
        "THEIRS-1,Cy Park,10/16/2023,300000,6.875%,360,\n"
    )
    upload(officer_client, text=text)
    loan_import = LoanImport.objects.get()
    page = officer_client.get(reverse("loans:import_preview", args=[loan_import.pk]))
    rows = page.context["rows"]
    verdicts = {row.line: bool(row.problems) for row in rows}
    assert verdicts == {2: False, 3: True, 4: True, 5: True, 6: True}
    body = page.content.decode()
    assert body.count('<span class="chip good">OK</span>') == 1
    assert body.count("Rejected: 1 problem") == 4


def test_the_import_help_page_lists_every_column_and_an_example_with_the_users_email(officer_client, officer):
    page = officer_client.get(reverse("loans:import_help"))
    assert page.status_code == 200
    body = page.content.decode()
    for name in ("loan_number", "note_rate", "borrower_email", "loan_officer", "borrower_name"):
        assert f"<code>{name}</code>" in body
    assert "Fields.364" in body and "Interest Rate" in body
    assert f",{officer.email}\n" in body  # the example imports as the signed-in officer


def test_the_docs_example_uses_a_demo_officer():
    from pathlib import Path

    from refiapp.demo import EMAIL_DOMAIN, STAFF

    docs = (Path(__file__).resolve().parents[2] / "docs" / "import-format.md").read_text()
    example = docs[docs.index("```csv") :].splitlines()[2]
    emails = {f"{username}@{EMAIL_DOMAIN}" for username, *_rest in STAFF}
    assert example.rsplit(",", 1)[1] in emails


def test_too_large_upload_is_refused(officer_client, settings):
    settings.IMPORT_MAX_BYTES = 100
    response = upload(officer_client, text=CSV * 5)
    assert response.status_code == 200
    assert "the limit is 100" in response.content.decode()
    assert not LoanImport.objects.exists()


def test_another_tenants_or_officers_import_is_404(officer_client, officer):
    stranger = LoanOfficerFactory()  # another organization
    upload(client_for(stranger))
    colleague = LoanOfficerFactory(organization=officer.organization, branch=officer.branch)
    upload(client_for(colleague))
    for loan_import in LoanImport.objects.all():
        for name in ("loans:import_preview", "loans:import_summary", "loans:import_errors_csv"):
            assert officer_client.get(reverse(name, args=[loan_import.pk])).status_code == 404
        assert officer_client.post(reverse("loans:import_commit", args=[loan_import.pk])).status_code == 404
    assert not Loan.objects.exists()
    assert set(LoanImport.objects.values_list("status", flat=True)) == {"previewed"}


def test_user_without_profile_gets_no_import_page(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x-12345678")
    client.force_login(user)
    assert client.get(reverse("loans:import_start")).status_code == 403
