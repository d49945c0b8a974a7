"""Drop folders: a local directory (FileSystemStorage) and any Django storage (InMemoryStorage)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage

from loans.models import Loan, LoanImport
from los.models import LosConnection, LosSync, ProcessedFile
from los.services.connections import los_connection_save
from los.services.sync import los_sync_run

pytestmark = [pytest.mark.django_db]
NOW = dt.datetime(2025, 10, 1, 11, 0, tzinfo=dt.UTC)  # 06:00 in Chicago
HEADER = "Loan Number,Borrower Name,Borrower Email,Note Date,Loan Amount,Note Rate,Term\n"
GOOD = (
    HEADER + "BY-1001,Ann Lee,ann@example.com,2023-01-05,300000,6.5,360\nBY-1002,Bo Ray,,2023-02-05,250000,6.25,360\n"
)
PARTIAL = HEADER + "CX-2001,Cy Dee,,2023-03-05,200000,6.75,360\nCX-2002,Di Eve,,2023-03-05,200000,six,360\n"
BROKEN = "Loan Number,Borrower Name\nBY-9,Nobody\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "exports"
    path.mkdir()
    return path


@pytest.fixture
def connection(admin, folder) -> LosConnection:
    connection, _ = los_connection_save(organization=admin.organization, kind="folder", folder=str(folder))
    return connection


def run(connection: LosConnection, **options) -> LosSync:
    with time_machine.travel(NOW, tick=False):
        return los_sync_run(connection=connection, trigger=LosSync.Trigger.COMMAND, settle_seconds=0, **options)


def test_each_new_export_is_imported_and_moved_with_its_summary(connection, folder):
    (folder / "byte-2025-10-01.csv").write_text(GOOD)
    (folder / "calyx.csv").write_text(PARTIAL)
    (folder / "broken.csv").write_text(BROKEN)
    (folder / "readme.pdf").write_bytes(b"%PDF-1.4")

    sync = run(connection)
    assert sync.status == LosSync.Status.SUCCEEDED, sync.message
    assert (sync.total_rows, sync.created_count, sync.rejected_count) == (4, 3, 1)  # broken.csv: a file error
    assert (sync.files_processed, sync.files_rejected) == (2, 1)
    assert {(e["file"], e.get("line")) for e in sync.errors} == {("calyx.csv", 3), ("broken.csv", None)}
    assert sync.message == f"3 new export(s) in {folder}; 2 imported, 1 rejected."
    assert sorted(Loan.objects.values_list("loan_number", flat=True)) == ["BY-1001", "BY-1002", "CX-2001"]

    assert sorted(os.listdir(folder)) == ["processed", "readme.pdf", "rejected"]
    assert sorted(os.listdir(folder / "processed")) == [
        "20251001-060000-byte-2025-10-01.csv",
        "20251001-060000-byte-2025-10-01.csv.summary.txt",
        "20251001-060000-calyx.csv",
        "20251001-060000-calyx.csv.summary.txt",
    ]
    summary = (folder / "processed" / "20251001-060000-calyx.csv.summary.txt").read_text()
    assert summary.splitlines()[:3] == [
        "calyx.csv (CSV): Imported",
        "  rows 2  created 1  updated 0  unchanged 0  rejected 1",
        "  line 3, Note Rate: not a number; write the rate like 6.5 or 6.500% (got 'six')",
    ]
    rejected = (folder / "rejected" / "20251001-060000-broken.csv.summary.txt").read_text()
    assert "broken.csv (CSV): Rejected" in rejected and "Missing required columns" in rejected
    ledger = {f.name: f for f in ProcessedFile.objects.all()}
    assert ledger["broken.csv"].outcome == ProcessedFile.Outcome.REJECTED
    assert ledger["calyx.csv"].moved_to == "processed/20251001-060000-calyx.csv"
    assert ledger["calyx.csv"].loan_import.rejected_count == 1


def test_the_same_file_is_never_imported_twice(connection, folder):
    (folder / "byte.csv").write_text(GOOD)
    run(connection)
    imports = LoanImport.objects.count()
    (folder / "byte.csv").write_text(GOOD)  # the LOS drops the same export again
    sync = run(connection)
    assert LoanImport.objects.count() == imports
    assert (sync.files_processed, sync.total_rows) == (0, 0)
    assert not (folder / "byte.csv").exists()  # moved out of the way all the same
    assert ProcessedFile.objects.count() == 1

    (folder / "byte.csv").write_text(GOOD.replace("6.25", "6.125"))  # same name, new content: a new export
    sync = run(connection)
    assert (sync.files_processed, sync.updated_count, sync.unchanged_count) == (1, 1, 1)
    assert ProcessedFile.objects.count() == 2


def test_a_run_that_stopped_before_moving_the_file_only_moves_it(connection, folder):
    (folder / "byte.csv").write_text(GOOD)
    run(connection)
    processed = ProcessedFile.objects.get()
    (folder / "byte.csv").write_text(GOOD)  # as if the move had not happened
    ProcessedFile.objects.filter(pk=processed.pk).update(moved_to="")
    run(connection)
    assert LoanImport.objects.count() == 1
    assert ProcessedFile.objects.get().moved_to.startswith("processed/")


def test_a_file_still_being_written_waits(connection, folder):
    (folder / "byte.csv").write_text(GOOD)
    sync = los_sync_run(connection=connection, trigger=LosSync.Trigger.COMMAND, settle_seconds=3600)
    assert sync.files_processed == 0 and "1 still being written: byte.csv" in sync.message
    assert (folder / "byte.csv").exists() and not Loan.objects.exists()


def test_any_django_storage_works(connection):
    storage = InMemoryStorage()
    storage.save("nightly.csv", ContentFile(GOOD.encode()))
    sync = run(connection, storage=storage)
    assert (sync.files_processed, sync.created_count) == (1, 2)
    assert storage.listdir("") == (["processed"], [])
    assert sorted(storage.listdir("processed")[1]) == [
        "20251001-060000-nightly.csv",
        "20251001-060000-nightly.csv.summary.txt",
    ]


def test_a_missing_folder_fails_the_sync_clearly(connection, folder):
    folder.rmdir()
    sync = run(connection)
    assert sync.status == LosSync.Status.FAILED
    assert sync.message == f"{folder} is not a directory on this server."


def test_folder_settings_name_a_directory_or_an_s3_prefix(tmp_path):
    from storages.backends.s3 import S3Storage

    from los.storage import FolderError, folder_storage

    s3 = folder_storage("s3://lender-exports/byte/nightly/")
    assert isinstance(s3, S3Storage) and (s3.bucket_name, s3.location) == ("lender-exports", "byte/nightly")
    assert folder_storage(str(tmp_path)).location == str(tmp_path)
    with pytest.raises(FolderError, match="not an absolute path"):
        folder_storage("exports")
    with pytest.raises(FolderError, match="s3://bucket/prefix"):
        folder_storage("s3:///nobucket")
