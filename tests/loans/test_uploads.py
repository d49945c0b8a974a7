"""Stored uploads: deleted after the retention period by the daily job, and per-user count and size limits
with a clear form error."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loans.models import LoanImport
from loans.tasks import expire_uploads
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # 09:00 in Chicago
CSV = "Loan #,Borrower Name,Closing Date,Note Amount,Interest Rate,Term\nV-1,Bob Ray,10/16/2023,300000,6.875%,360\n"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def upload(client, name="export.csv", text=CSV):  # type: ignore[no-untyped-def]
    return client.post(reverse("loans:import_start"), {"file": SimpleUploadedFile(name, text.encode()), "format": ""})


def stored_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def test_files_are_deleted_after_the_retention_period_and_the_rows_stay(officer, clock, media_root, settings):
    client = client_for(officer)
    upload(client, "old-waiting.csv")
    upload(client, "old-done.csv")
    done = LoanImport.objects.get(filename="old-done.csv")
    client.post(reverse("loans:import_commit", args=[done.pk]))
    clock.shift(dt.timedelta(days=2))
    upload(client, "recent.csv")
    assert LoanImport.objects.get(filename="recent.csv").file_size == len(CSV.encode())
    assert len(stored_files(media_root)) == 3

    clock.shift(dt.timedelta(days=settings.UPLOAD_RETENTION_DAYS - 1))  # 91 and 89 days old
    assert expire_uploads() == 2
    assert stored_files(media_root) == ["recent.csv"]
    waiting, done = LoanImport.objects.get(filename="old-waiting.csv"), LoanImport.objects.get(filename="old-done.csv")
    assert (waiting.file.name, waiting.status) == ("", "rejected")
    assert waiting.errors[0]["message"] == (
        "The uploaded file was deleted after 90 days without being confirmed; upload it again."
    )
    assert (done.file.name, done.status, done.created_count) == ("", "committed", 1)  # the record of the import stays
    page = client_for(officer).get(reverse("loans:import_preview", args=[waiting.pk]), follow=True)
    summary = page.content.decode()
    assert "deleted after 90 days" in html.unescape(summary)
    assert expire_uploads() == 0  # rerun: nothing left to do


def test_the_daily_count_limit_is_a_clear_form_error(officer, clock, settings):
    settings.UPLOAD_MAX_PER_USER_PER_DAY = 2
    client = client_for(officer)
    assert upload(client).status_code == upload(client).status_code == 302
    clock.shift(dt.timedelta(hours=1))
    refused = upload(client)
    assert refused.status_code == 200
    assert (
        "You have uploaded 2 files in the last 24 hours; the limit is 2. You can upload again after 09:00 on Nov 24."
        in html.unescape(refused.content.decode())
    )
    assert LoanImport.objects.count() == 2
    # A colleague has their own allowance; the officer's comes back after 24 hours.
    colleague = client_for(
        type(officer).objects.create(
            user=type(officer.user).objects.create_user("colleague"),
            organization=officer.organization,
            branch=officer.branch,
            display_name="Colleague",
            email="c@lender.example.com",
        )
    )
    assert upload(colleague).status_code == 302
    clock.shift(dt.timedelta(hours=23))
    assert upload(client).status_code == 302


def test_the_stored_size_limit_is_a_clear_form_error_and_frees_up_on_expiry(officer, clock, settings):
    settings.UPLOAD_MAX_BYTES_PER_USER = 2 * len(CSV.encode()) + 10
    client = client_for(officer)
    upload(client)
    upload(client)
    refused = upload(client)
    text = html.unescape(refused.content.decode())
    assert refused.status_code == 200
    assert (
        "Your stored uploads take 212\xa0bytes and this file 106\xa0bytes; the limit per person is 222\xa0bytes."
        in text
    )
    assert "deleted 90 days after they were made" in text
    clock.shift(dt.timedelta(days=91))
    expire_uploads()
    assert upload(client_for(officer)).status_code == 302
