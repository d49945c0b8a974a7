"""Stored uploads (LOS exports kept for the preview → confirm flow): per-user limits and the retention period.

An upload is kept while it may still be previewed or audited, then its file is deleted: ``uploads_expire``
(daily, ``loans.tasks.expire_uploads``) removes files older than UPLOAD_RETENTION_DAYS and keeps the LoanImport
row (who, when, counts, row errors). An import still waiting for confirmation when its file expires is
rejected with a message saying so. Each user may store at most UPLOAD_MAX_BYTES_PER_USER (files not yet
expired) and upload at most UPLOAD_MAX_PER_USER_PER_DAY files in 24 hours; the upload form says which limit
was hit and when it frees up.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Min, Sum
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from loans.models import LoanImport

logger = logging.getLogger(__name__)

EXPIRED_MESSAGE = "The uploaded file was deleted after {days} days without being confirmed; upload it again."


def retention() -> dt.timedelta:
    return dt.timedelta(days=settings.UPLOAD_RETENTION_DAYS)


def upload_quota_check(*, user: Any, size: int, zone: ZoneInfo, now: dt.datetime | None = None) -> None:
    """ValidationError (a message for the upload form) when this upload would pass one of the user's limits;
    ``zone`` is the one the user reads times in (their organization's)."""
    now = now or timezone.now()
    mine = LoanImport.objects.filter(uploaded_by=user)
    recent = mine.filter(created_at__gt=now - dt.timedelta(hours=24)).aggregate(
        count=Count("pk"), first=Min("created_at")
    )
    count, limit = recent["count"], settings.UPLOAD_MAX_PER_USER_PER_DAY
    if count >= limit:
        free_at = (recent["first"] + dt.timedelta(hours=24)).astimezone(zone)
        raise ValidationError(
            f"You have uploaded {count} files in the last 24 hours; the limit is {limit}. "
            f"You can upload again after {free_at:%H:%M} on {free_at:%b} {free_at.day}."
        )
    budget = settings.UPLOAD_MAX_BYTES_PER_USER
    stored = mine.exclude(file="").aggregate(total=Sum("file_size"))["total"] or 0
    if stored + size > budget:
        days = settings.UPLOAD_RETENTION_DAYS
        raise ValidationError(
            f"Your stored uploads take {filesizeformat(stored)} and this file {filesizeformat(size)}; the limit per "
            f"person is {filesizeformat(budget)}. Uploads are deleted {days} days after they were made, which "
            "frees the space; or ask an admin to run the import_loans command."
        )


def uploads_expire(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Delete the files of uploads older than the retention period; returns how many were deleted.

    Idempotent: a row whose file is gone is skipped next time (``file`` is emptied). The file is deleted after
    the row is updated, so a crash leaves at worst an orphan file, never a row pointing at nothing."""
    now = now or timezone.now()
    cutoff = now - retention()
    stored = LoanImport.objects.exclude(file="").filter(created_at__lt=cutoff).order_by("pk")
    done, last = 0, 0
    while expired := list(stored.filter(pk__gt=last)[:batch]):
        done += sum(_expire(loan_import) for loan_import in expired)
        last = expired[-1].pk
    return done


def _expire(loan_import: LoanImport) -> int:
    name, storage = loan_import.file.name, loan_import.file.storage
    updates: dict[str, Any] = {"file": ""}
    if loan_import.status == LoanImport.Status.PREVIEWED:
        message = EXPIRED_MESSAGE.format(days=settings.UPLOAD_RETENTION_DAYS)
        updates.update(
            status=LoanImport.Status.REJECTED,
            errors=[{"line": None, "column": "", "message": message}, *loan_import.errors],
        )
    # Only if nobody changed it meanwhile (a commit in progress holds the row and keeps its file).
    changed = LoanImport.objects.filter(pk=loan_import.pk, file=name, status=loan_import.status).update(**updates)
    if not changed:
        return 0
    try:
        storage.delete(name)
    except OSError:
        logger.exception("Could not delete expired upload %s (import %s)", name, loan_import.pk)
    return 1
