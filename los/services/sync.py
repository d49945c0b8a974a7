"""Running a connection: one LosSync per run, claimed first, finished with the summary or the reason it failed.

A run never raises for what an operator can fix (Encompass refusing, a missing folder, a secret the key cannot
read): the sync is marked failed with that message and the next run tries again. Only a bug raises (after the
sync is marked failed), so the task queue records it. Schedules claim their slot with a conditional UPDATE,
so a slot runs once however many workers look at it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from los.encompass import EncompassError
from los.models import LosConnection, LosSync
from los.secrets import SecretUnreadable
from los.selectors import due_slot
from los.services.connections import encompass_client_for
from los.services.encompass_sync import EncompassOutcome, encompass_sync
from los.services.folder_sync import SETTLE_SECONDS, FolderOutcome, folder_sync
from los.storage import FolderError, folder_storage

logger = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(hours=6)  # a "running" sync older than this belongs to a worker that died


class SyncRefused(Exception):
    """The connection is syncing already."""


def los_sync_run(
    *,
    connection: LosConnection,
    trigger: str,
    user: Any = None,
    client_options: dict[str, Any] | None = None,
    storage: Any = None,
    settle_seconds: int = SETTLE_SECONDS,
) -> LosSync:
    now = timezone.now()
    LosSync.objects.filter(
        connection=connection, status=LosSync.Status.RUNNING, started_at__lt=now - STALE_AFTER
    ).update(
        status=LosSync.Status.FAILED, finished_at=now, message="The worker running this sync stopped before it ended."
    )
    try:
        with transaction.atomic():
            sync = LosSync.objects.create(
                organization_id=connection.organization_id,
                connection=connection,
                trigger=trigger,
                started_at=now,
                created_by=user if getattr(user, "pk", None) else None,
            )
    except IntegrityError as exc:
        raise SyncRefused(f"{connection.name} is already syncing.") from exc
    newest = None
    try:
        if connection.kind == LosConnection.Kind.ENCOMPASS:
            client = encompass_client_for(connection, **(client_options or {}))
            newest = _record_encompass(
                sync, connection, encompass_sync(sync=sync, connection=connection, client=client)
            )
        else:
            folder = storage or folder_storage(connection.folder)
            outcome = folder_sync(sync=sync, connection=connection, storage=folder, settle_seconds=settle_seconds)
            _record_folder(sync, connection, outcome)
    except (EncompassError, FolderError, SecretUnreadable, OSError) as exc:
        sync.status, sync.message = LosSync.Status.FAILED, str(exc)
    except Exception as exc:
        sync.status, sync.message = LosSync.Status.FAILED, f"Internal error ({type(exc).__name__}); see the task log."
        _finish(sync, connection)
        raise
    _finish(sync, connection, newest=newest)
    return sync


def _finish(sync: LosSync, connection: LosConnection, *, newest: dt.datetime | None = None) -> None:
    """Save the sync; a good one moves the connection's last success and (Encompass) its watermark."""
    sync.finished_at = timezone.now()
    sync.save()
    if sync.status != LosSync.Status.SUCCEEDED:
        return
    connection.last_success_at = sync.finished_at
    fields = ["last_success_at"]
    if newest is not None and (connection.modified_watermark is None or newest > connection.modified_watermark):
        connection.modified_watermark = newest
        fields.append("modified_watermark")
    LosConnection.objects.filter(pk=connection.pk).update(**{name: getattr(connection, name) for name in fields})


def _record_encompass(sync: LosSync, connection: LosConnection, outcome: EncompassOutcome) -> dt.datetime | None:
    """The summary of an Encompass sync; returns the new watermark when the sync succeeded."""
    loan_import = outcome.loan_import
    sync.loan_import = loan_import
    sync.total_rows = outcome.received
    sync.applications_created = outcome.applications_created
    sync.applications_updated = outcome.applications_updated
    sync.applications_unchanged = outcome.applications_unchanged
    errors = list(outcome.errors)
    sync.rejected_count = outcome.applications_rejected
    if loan_import is not None:
        sync.created_count = loan_import.created_count
        sync.updated_count = loan_import.updated_count
        sync.unchanged_count = loan_import.unchanged_count
        sync.rejected_count += loan_import.rejected_count
        errors = [{**error, "line": None} for error in loan_import.errors] + errors
    sync.errors = errors
    closed = loan_import.total_rows if loan_import else 0
    sync.message = (
        f"{outcome.received} loan(s) from Encompass"
        + (
            f" modified since {connection.modified_watermark:%Y-%m-%d %H:%M} UTC"
            if connection.modified_watermark
            else ""
        )
        + f": {closed} closed (portfolio), {outcome.received - closed} active (applications)."
    )
    if loan_import is not None and loan_import.status != loan_import.Status.COMMITTED:
        sync.status = LosSync.Status.FAILED
        sync.message += " The closed loans could not be imported: " + (errors[0]["message"] if errors else "")
        return None
    sync.status = LosSync.Status.SUCCEEDED
    return outcome.newest


def _record_folder(sync: LosSync, connection: LosConnection, outcome: FolderOutcome) -> None:
    sync.total_rows = outcome.total
    sync.created_count = outcome.created
    sync.updated_count = outcome.updated
    sync.unchanged_count = outcome.unchanged
    sync.rejected_count = outcome.rejected
    sync.errors = outcome.errors
    sync.files_processed = outcome.files_processed
    sync.files_rejected = outcome.files_rejected
    taken = outcome.files_processed + outcome.files_rejected
    parts = [f"{taken} new export(s) in {connection.folder}" if taken else f"No new exports in {connection.folder}"]
    if taken:
        parts.append(f"{outcome.files_processed} imported, {outcome.files_rejected} rejected")
    if outcome.files_skipped:
        parts.append(f"{len(outcome.files_skipped)} still being written: {', '.join(outcome.files_skipped[:5])}")
    sync.message = "; ".join(parts) + "."
    sync.status = LosSync.Status.SUCCEEDED


def los_syncs_run_due(*, now: dt.datetime | None = None) -> list[int]:
    """Claim the due slot of every enabled connection (once, whatever the number of workers) and return the
    claimed connections' ids; the task enqueues one sync per id."""
    now = now or timezone.now()
    claimed = []
    for connection in LosConnection.objects.filter(enabled=True).select_related("organization").order_by("pk"):
        slot = due_slot(connection, now)
        if slot is None:
            continue
        won = (
            LosConnection.objects.filter(pk=connection.pk)
            .filter(Q(last_slot__isnull=True) | Q(last_slot__lt=slot))
            .update(last_slot=slot)
        )
        if won:
            claimed.append(connection.pk)
    return claimed
