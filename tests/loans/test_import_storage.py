"""Uploads live in the configured storage, not on a local path: the import reads them through the storage API, so
several web servers and workers can share them on S3-compatible object storage (django-storages).

S3 is faked at the network edge by moto (botocore's HTTP calls answered in-process, the documented S3 shapes).
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from moto import mock_aws

from loans.models import Loan, LoanImport
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
CSV = (
    "Loan #,Borrower Name,Closing Date,Note Amount,Interest Rate,Term\n"
    'S-1,Bob Ray,10/16/2023,"$300,000",6.875%,360\n'
    "S-2,Sue Kim,2023-11-02,250000,not-a-rate,360\n"
)
MISMO = (ROOT / "tests" / "fixtures" / "mismo33_ucd_excerpt_TRIDent.xml").read_bytes()
BUCKET = "refiapp-uploads-test"


def storage_settings(backend: str, **options: object) -> dict:
    return {
        "default": {"BACKEND": backend, "OPTIONS": options},
        "staticfiles": settings.STORAGES["staticfiles"],
    }


@pytest.fixture(params=["memory", "s3"])
def upload_storage(request, settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The app's uploads on a storage without local paths; MEDIA_ROOT points at a directory that must stay empty."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    if request.param == "memory":
        settings.STORAGES = storage_settings("django.core.files.storage.InMemoryStorage")
        yield request.param
        return
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        settings.STORAGES = storage_settings(
            "storages.backends.s3.S3Storage",
            bucket_name=BUCKET,
            region_name="us-east-1",
            location="uploads",
            default_acl=None,
            file_overwrite=False,
        )
        yield request.param


def stored_keys() -> list[str]:
    client = boto3.client("s3", region_name="us-east-1")
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def upload(client, content: bytes, name: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("loans:import_start"), {"file": SimpleUploadedFile(name, content), "format": ""})


def test_csv_import_previews_and_commits_from_the_storage(upload_storage, officer_client, officer, settings):
    response = upload(officer_client, CSV.encode(), "export.csv")
    loan_import = LoanImport.objects.get()
    assert response.status_code == 302
    assert storages["default"].exists(loan_import.file.name)
    if upload_storage == "s3":
        assert stored_keys() == [f"uploads/{loan_import.file.name}"]
    assert not os.path.exists(settings.MEDIA_ROOT)  # nothing on the local disk

    preview = officer_client.get(reverse("loans:import_preview", args=[loan_import.pk])).content.decode()
    assert "S-1" in preview and "not a number" in preview

    officer_client.post(reverse("loans:import_commit", args=[loan_import.pk]), {"allow_partial": "on"})
    loan_import.refresh_from_db()
    assert (loan_import.status, loan_import.created_count, loan_import.rejected_count) == ("committed", 1, 1)
    assert Loan.objects.get().loan_number == "S-1"


def test_mismo_import_reads_the_stored_xml(upload_storage, org_admin):
    client = client_for(org_admin)
    upload(client, MISMO, "page3FullData.xml")
    loan_import = LoanImport.objects.get()
    assert (loan_import.format, loan_import.status) == (LoanImport.Format.MISMO, "previewed"), loan_import.errors
    client.post(reverse("loans:import_commit", args=[loan_import.pk]))
    loan = Loan.objects.get()
    assert (loan.loan_number, loan.note_rate) == ("6830011782", Decimal("3.950"))


def settings_in_a_fresh_process(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "DJANGO_SETTINGS_MODULE"}
    code = "from django.conf import settings; s = settings.STORAGES['default']; print(s['BACKEND'], s.get('OPTIONS'))"
    completed = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "refiapp.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_the_environment_switches_uploads_to_object_storage():
    assert settings_in_a_fresh_process().startswith("django.core.files.storage.FileSystemStorage")
    configured = settings_in_a_fresh_process(
        AWS_STORAGE_BUCKET_NAME="lender-uploads",
        AWS_S3_ENDPOINT_URL="https://s3.example.test",
        AWS_S3_REGION_NAME="us-west-2",
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="not-a-real-secret",
        AWS_S3_ADDRESSING_STYLE="path",
    )
    assert configured.startswith("storages.backends.s3.S3Storage")
    for expected in (
        "'bucket_name': 'lender-uploads'",
        "'endpoint_url': 'https://s3.example.test'",
        "'region_name': 'us-west-2'",
        "'access_key': 'AKIDEXAMPLE'",
        "'addressing_style': 'path'",
        "'location': 'uploads'",
        "'file_overwrite': False",
    ):
        assert expected in configured
