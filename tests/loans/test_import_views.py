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
    assert "Nothing was imported: Missing required columns" in page.content.decode()


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
