"""One drop-folder sync: import each new CSV or MISMO export with the file importer, then move it to
``processed/`` (rows written) or ``rejected/`` (nothing could be written) with its summary beside it.

Exactly once per file: the import and its ledger row (connection, file name, SHA-256 of the content) commit in one
transaction, and the ledger's unique constraint refuses a second one; a file found again with a ledger row
(a run that stopped between the import and the move) is only moved. A file modified in the last
``SETTLE_SECONDS`` may still be being written and waits for the next run. Files are imported with
``allow_partial``: good rows land, bad rows are listed in the summary (a feed nobody watches should not lose a
night's updates over one bad date).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from loans.models import LoanImport
from loans.services.import_summary import loan_import_summary
from loans.services.imports import loan_import_upload
from los.models import LosConnection, LosSync, ProcessedFile

EXPORT_SUFFIXES = (".csv", ".txt", ".xml")
PROCESSED, REJECTED = "processed", "rejected"
SETTLE_SECONDS = 60


@dataclass
class FolderOutcome:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    files_processed: int = 0
    files_rejected: int = 0
    files_skipped: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def folder_sync(
    *, sync: LosSync, connection: LosConnection, storage: Storage, settle_seconds: int = SETTLE_SECONDS
) -> FolderOutcome:
    outcome = FolderOutcome()
    now = timezone.now()
    _dirs, files = storage.listdir("")
    for name in sorted(files):
        if not name.lower().endswith(EXPORT_SUFFIXES) or name.startswith("."):
            continue
        if settle_seconds > 0 and (now - storage.get_modified_time(name)).total_seconds() < settle_seconds:
            outcome.files_skipped.append(name)  # still being written
            continue
        digest, size = _sha256(storage, name)
        done = ProcessedFile.objects.filter(connection=connection, name=name, content_hash=digest).first()
        if done is None:
            done = _import(sync, connection, storage, name, digest, size)
            if done is None:  # another worker took it in the meantime
                continue
            _count(outcome, done)
        folder = PROCESSED if done.outcome == ProcessedFile.Outcome.PROCESSED else REJECTED
        moved = _move(storage, name, folder, stamp=timezone.localtime(now, connection.organization.zone))
        summary = loan_import_summary(done.loan_import) if done.loan_import else f"{name}: imported before"
        storage.save(f"{moved}.summary.txt", ContentFile(summary.encode() + b"\n"))
        ProcessedFile.objects.filter(pk=done.pk).update(moved_to=moved)
    return outcome


def _sha256(storage: Storage, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with storage.open(name, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _import(
    sync: LosSync, connection: LosConnection, storage: Storage, name: str, digest: str, size: int
) -> ProcessedFile | None:
    try:
        with transaction.atomic():
            with storage.open(name, "rb") as handle:
                loan_import = loan_import_upload(
                    organization=connection.organization, file=handle, filename=name, allow_partial=True
                )
            written = loan_import.created_count + loan_import.updated_count + loan_import.unchanged_count
            usable = loan_import.status == LoanImport.Status.COMMITTED and (written or not loan_import.total_rows)
            return ProcessedFile.objects.create(
                organization=connection.organization,
                connection=connection,
                sync=sync,
                name=name,
                content_hash=digest,
                size=size,
                outcome=ProcessedFile.Outcome.PROCESSED if usable else ProcessedFile.Outcome.REJECTED,
                loan_import=loan_import,
            )
    except IntegrityError:
        return None


def _count(outcome: FolderOutcome, done: ProcessedFile) -> None:
    loan_import = done.loan_import
    assert loan_import is not None
    outcome.total += loan_import.total_rows
    outcome.created += loan_import.created_count
    outcome.updated += loan_import.updated_count
    outcome.unchanged += loan_import.unchanged_count
    outcome.rejected += loan_import.rejected_count
    outcome.errors.extend({**error, "file": done.name} for error in loan_import.errors)
    if done.outcome == ProcessedFile.Outcome.PROCESSED:
        outcome.files_processed += 1
    else:
        outcome.files_rejected += 1


def _move(storage: Storage, name: str, folder: str, *, stamp: Any) -> str:
    """Storages have no rename: copy to ``folder/<local time>-<name>``, then delete the original."""
    with storage.open(name, "rb") as handle:
        saved = storage.save(f"{folder}/{stamp:%Y%m%d-%H%M%S}-{name}", handle)
    storage.delete(name)
    return saved
