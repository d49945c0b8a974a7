"""One Encompass sync: pull the pipeline (all loans the first time, then those modified since the last good
sync), send closed loans to the portfolio through the file importer, upsert active loans as applications.

- Closed loans (a closed date, ``Fields.748``) are written, page by page, into a CSV whose columns are the
  Encompass field ids (``Fields.364`` …, the aliases the CSV importer already knows, docs/import-format.md)
  and imported at the end with ``loan_import_upload`` — the same checks, the same COPY path, the same summary
  as a file, and the file itself kept on its LoanImport as the record of what Encompass sent.
- Active loans become Applications (organization, LOS guid), checked with the importers' own value parsers;
  a loan that has closed since is marked closed. Each page is one set of queries, never a loop of saves.
- The watermark (newest ``Loan.LastModified`` seen) moves only when the whole sync succeeded, so a failed
  sync is simply repeated by the next one.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import tempfile
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.models import LoanOfficer
from loans.importers.base import parse_date, parse_email, parse_loan_number, parse_money, parse_rate, parse_text
from loans.models import Borrower, LoanImport
from loans.services.imports import loan_import_upload
from los.encompass import LAST_MODIFIED, PipelineLoan
from los.models import Application, LosConnection, LosSync

# CSV column (an Encompass field id the CSV importer maps) → the fields that fill it, first non-blank wins.
PORTFOLIO_COLUMNS: list[tuple[str, list[str]]] = [
    ("Fields.364", ["Fields.364"]),
    ("Fields.4000", ["Fields.4000"]),
    ("Fields.4002", ["Fields.4002"]),
    ("Fields.1240", ["Fields.1240"]),
    ("Fields.1490", ["Fields.1490"]),
    ("Fields.2", ["Fields.2", "Fields.1109"]),
    ("Fields.3", ["Fields.3"]),
    ("Fields.4", ["Fields.4"]),
    ("Fields.748", ["Fields.748"]),
    ("Fields.682", ["Fields.682"]),
    ("Fields.1172", ["Fields.1172"]),
    ("Fields.608", ["Fields.608"]),
    ("Fields.19", ["Fields.19"]),
    ("Fields.420", ["Fields.420"]),
    ("Fields.1811", ["Fields.1811"]),
    ("Fields.356", ["Fields.356", "Fields.1821", "Fields.136"]),
    ("Fields.11", ["Fields.11"]),
    ("Fields.12", ["Fields.12"]),
    ("Fields.14", ["Fields.14"]),
    ("Fields.15", ["Fields.15"]),
    ("Fields.VASUMM.X23", ["Fields.VASUMM.X23"]),
]
APPLICATION_FIELDS = [
    "Fields.761",  # lock date
    "Fields.762",  # lock expiration
    "Loan.CurrentMilestoneName",
    "Loan.LoanOfficerName",
    LAST_MODIFIED,
]
PIPELINE_FIELDS = list(
    dict.fromkeys([f for _column, sources in PORTFOLIO_COLUMNS for f in sources] + APPLICATION_FIELDS)
)
CLOSED_DATE = "Fields.748"
APPLICATION_VALUES = ["loan_number", "borrower_name", "borrower_email", "loan_officer_name", "milestone", "status"]
APPLICATION_VALUES += ["loan_amount", "note_rate", "lock_date", "lock_expiration", "last_modified"]


@dataclass
class EncompassOutcome:
    received: int = 0
    applications_created: int = 0
    applications_updated: int = 0
    applications_unchanged: int = 0
    applications_rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    newest: dt.datetime | None = None
    loan_import: LoanImport | None = None


def encompass_sync(*, sync: LosSync, connection: LosConnection, client: Any) -> EncompassOutcome:
    outcome = EncompassOutcome()
    officers = {
        officer.display_name.strip().lower(): officer
        for officer in LoanOfficer.objects.for_organization(connection.organization_id)
    }
    closed_rows = 0
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+b") as spool:
        text = codecs.getwriter("utf-8")(spool)
        writer = csv.writer(text)
        writer.writerow([column for column, _sources in PORTFOLIO_COLUMNS])
        for page in client.pipeline(fields=PIPELINE_FIELDS, modified_since=connection.modified_watermark):
            outcome.received += len(page)
            closed = [loan for loan in page if loan.fields.get(CLOSED_DATE, "").strip()]
            for loan in closed:
                writer.writerow([_first(loan, sources) for _column, sources in PORTFOLIO_COLUMNS])
            closed_rows += len(closed)
            active = [loan for loan in page if not loan.fields.get(CLOSED_DATE, "").strip()]
            _applications_upsert(connection, active, closed, officers, outcome)
            for loan in page:
                modified = _moment(loan.fields.get(LAST_MODIFIED, ""))
                if modified and (outcome.newest is None or modified > outcome.newest):
                    outcome.newest = modified
        if closed_rows:
            spool.seek(0)
            outcome.loan_import = loan_import_upload(
                organization=connection.organization,
                file=spool,
                filename=f"encompass-{connection.pk}-sync-{sync.pk}.csv",
                format=LoanImport.Format.CSV,
                allow_partial=True,
            )
    return outcome


def _first(loan: PipelineLoan, sources: list[str]) -> str:
    for source in sources:
        value = loan.fields.get(source, "").strip()
        if value:
            return value
    return ""


def _moment(value: str) -> dt.datetime | None:
    """Encompass dates come as ISO 8601 or as US ``MM/DD/YYYY hh:mm:ss AM``; a naive one is UTC."""
    value = value.strip()
    if not value:
        return None
    moment = None
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        for pattern in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y"):
            try:
                moment = dt.datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
    if moment is None:
        return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt.UTC)


_PARSERS = [
    ("loan_number", "Fields.364", parse_loan_number),
    ("borrower_email", "Fields.1240", parse_email),
    ("loan_amount", "Fields.2", parse_money),
    ("note_rate", "Fields.3", parse_rate),
    ("lock_date", "Fields.761", parse_date),
    ("lock_expiration", "Fields.762", parse_date),
    ("milestone", "Loan.CurrentMilestoneName", parse_text(100)),
    ("loan_officer_name", "Loan.LoanOfficerName", parse_text(120)),
]


def _application_values(loan: PipelineLoan, errors: list[dict[str, Any]]) -> dict[str, Any] | None:
    """An active loan's values, checked with the importers' parsers; problems become row errors."""
    values: dict[str, Any] = {"status": Application.Status.ACTIVE}
    number = loan.fields.get("Fields.364", "").strip()
    problems = []
    for name, source, parse in _PARSERS:
        raw = loan.fields.get(source, "").strip()
        if not raw:
            values[name] = None if name not in ("loan_number", "borrower_email", "milestone") else ""
            continue
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            problems.append({"line": None, "column": source, "message": f"{exc} (got '{raw[:60]}')"})
    if values.get("lock_date") and values.get("lock_expiration") and values["lock_expiration"] < values["lock_date"]:
        problems.append({"line": None, "column": "Fields.762", "message": "lock expiration is before the lock date"})
    if problems:
        errors.extend({**problem, "loan_number": number or loan.guid} for problem in problems)
        return None
    values["loan_officer_name"] = values["loan_officer_name"] or ""
    first, last = loan.fields.get("Fields.4000", "").strip(), loan.fields.get("Fields.4002", "").strip()
    values["borrower_name"] = f"{first} {last}".strip()[:200]
    values["last_modified"] = _moment(loan.fields.get(LAST_MODIFIED, ""))
    return values


@transaction.atomic
def _applications_upsert(
    connection: LosConnection,
    active: list[PipelineLoan],
    closed: list[PipelineLoan],
    officers: dict[str, LoanOfficer],
    outcome: EncompassOutcome,
) -> None:
    organization_id = connection.organization_id
    now = timezone.now()
    if closed:
        Application.objects.filter(
            organization_id=organization_id,
            loan_guid__in=[loan.guid for loan in closed],
            status=Application.Status.ACTIVE,
        ).update(status=Application.Status.CLOSED, updated_at=now)
    wanted: dict[str, dict[str, Any]] = {}
    for loan in active:
        values = _application_values(loan, outcome.errors)
        if values is None:
            outcome.applications_rejected += 1
        else:
            wanted[loan.guid] = values
    if not wanted:
        return
    existing = {
        app.loan_guid: app
        for app in Application.objects.filter(organization_id=organization_id, loan_guid__in=list(wanted))
    }
    emails = {values["borrower_email"] for values in wanted.values() if values["borrower_email"]}
    borrowers: dict[str, int] = {}
    for borrower_id, email in (
        Borrower.objects.for_organization(organization_id)
        .filter(email__in=emails)
        .order_by("-pk")
        .values_list("pk", "email")
    ):
        borrowers[email] = borrower_id  # the oldest borrower with the address wins (ordered newest first)
    # The first sync of a connection brings the whole pipeline in: its milestones are not news to borrowers.
    baseline = not LosSync.objects.filter(connection=connection, status=LosSync.Status.SUCCEEDED).exists()
    new, changed = [], []
    for guid, values in wanted.items():
        officer = officers.get(values["loan_officer_name"].strip().lower()) if values["loan_officer_name"] else None
        row = existing.get(guid) or Application(organization_id=organization_id, loan_guid=guid)
        fresh = {
            **values,
            "connection_id": connection.pk,
            "loan_officer_id": officer.pk if officer else row.loan_officer_id,
            "borrower_id": borrowers.get(values["borrower_email"], row.borrower_id),
        }
        differs = [name for name, value in fresh.items() if getattr(row, name) != value]
        if row.pk is None:
            for name, value in fresh.items():
                setattr(row, name, value)
            if row.milestone and not baseline:
                row.milestone_changed_at = now
            new.append(row)
        elif differs:
            for name in differs:
                setattr(row, name, fresh[name])
            if "milestone" in differs and row.milestone:
                row.milestone_changed_at = now
            row.updated_at = now
            changed.append(row)
        else:
            outcome.applications_unchanged += 1
    Application.objects.bulk_create(new, batch_size=1000)
    if changed:
        fields = [*APPLICATION_VALUES, "connection", "loan_officer", "borrower", "milestone_changed_at", "updated_at"]
        Application.objects.bulk_update(changed, fields, batch_size=500)
    outcome.applications_created += len(new)
    outcome.applications_updated += len(changed)
