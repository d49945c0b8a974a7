"""Loan imports (CSV and MISMO): preview, then commit — one service for the page, the command and seed data.

Flow: ``loan_import_preview`` stores the upload on a LoanImport and runs every row through the same checks
the commit runs, without writing (counts are what the commit would do). ``loan_import_commit`` runs them
again and writes, in one transaction: without ``allow_partial`` a single bad row rejects the whole file
and nothing is written; with it the good rows are written and the bad ones reported.

Upsert by loan number within the organization. A row whose values equal the stored ones is "unchanged" and
is not written at all (updated_at keeps its value), so re-importing a file changes nothing. A CSV row equal,
byte for byte under the same columns, to the one the last import took for its loan (``Loan.import_digest``) is
unchanged without being compared, so a change made in the app since is not undone by the same export again.
Duplicate loan numbers inside one file reject every row that carries them.

Two ways to write, one set of checks (the importers, ``finish_row`` and ``import_scope._Scope``):
- PostgreSQL: ``import_copy.CopyRun`` streams the checked rows with COPY into a staging table and upserts
  them set-based (bench/import_copy.py; its figures are in the README).
- SQLite (the embedded default): rows are handled in batches of ``BATCH_SIZE`` (existing loans and borrowers
  looked up per batch, bulk_create / bulk_update per batch).
Memory stays bounded for big files either way: rows are streamed from the stored file; only the loan numbers
(to find duplicates) and the error list grow with the file.

Scope: a loan officer imports only their own loans (rows default to them); a branch manager only loans of
their branch; an org admin, and the ``import_loans`` command, the whole organization. An existing loan
outside the importer's scope is a row error, never silently overwritten.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from core.models import Branch, LoanOfficer, Organization
from core.tenancy import profile_for
from core.us_states import single_zone
from loans import geo
from loans.importers import ImportFileError, LoanRow, RowError, detect_format, importer_for
from loans.importers.base import find_duplicates
from loans.models import Borrower, ConsentEvent, Loan, LoanImport
from loans.services.import_copy import CopyRun
from loans.services.import_scope import LOAN_FIELDS, ImportResult, _Scope, gc_frozen

BATCH_SIZE = 1000
CHANNEL_EMAIL = "email"
CHANNEL_SMS = "sms"

BORROWER_FIELDS = {
    "borrower_first_name": "first_name",
    "borrower_last_name": "last_name",
    "borrower_email": "email",
    "borrower_mobile": "mobile_phone",
}
LOAN_FK_EXCLUDE = ["organization", "borrower", "co_borrower", "loan_officer", "branch", "refinanced_from"]


@dataclass
class _Batch:
    new_borrowers: dict[int, Borrower] = field(default_factory=dict)
    changed_borrowers: dict[int, Borrower] = field(default_factory=dict)
    borrower_fields: set[str] = field(default_factory=set)
    new_loans: list[Loan] = field(default_factory=list)
    changed_loans: list[Loan] = field(default_factory=list)
    loan_fields: set[str] = field(default_factory=set)
    consent_events: list[ConsentEvent] = field(default_factory=list)
    digest_loans: list[Loan] = field(default_factory=list)  # unchanged values, a new row digest to remember


class _Run:
    """One pass over a LoanImport's file: checks every row and (when ``write``) upserts the good ones."""

    def __init__(
        self,
        *,
        organization: Organization,
        user: Any,
        write: bool,
        source: str,
        consent_source: str,
        upload_date: dt.date,
        import_id: int | None = None,
    ) -> None:
        self.organization = organization
        self.write = write
        self.source = source
        self.consent_source = consent_source
        self.import_id = import_id
        self.now = timezone.now()
        self.upload_date = upload_date
        self.scope = _Scope.load(organization, user)
        self.result = ImportResult()

    def run(self, rows_source: Any) -> ImportResult:
        if connection.vendor == "postgresql":
            return CopyRun(self).run(rows_source)
        with gc_frozen():
            duplicates = find_duplicates(rows_source.loan_numbers())
            for batch in _batched(rows_source.rows(), BATCH_SIZE):
                self._batch(batch, duplicates)
        return self.result

    def _batch(self, rows: list[LoanRow], duplicates: dict[str, list[int]]) -> None:
        self.result.total += len(rows)
        good: list[tuple[LoanRow, LoanOfficer | None, Branch | None]] = []
        for row in rows:
            lines = duplicates.get(row.loan_number)
            if lines:
                listed = ", ".join(str(line) for line in lines[:10])
                row.error("loan_number", f"loan number {row.loan_number} appears {len(lines)} times (lines {listed})")
            officer, branch = self.scope.assign(row) if row.ok else (None, None)
            if row.ok:
                good.append((row, officer, branch))
            else:
                self.result.reject(row)
        if not good:
            return
        numbers = [row.loan_number for row, _o, _b in good]
        existing = {
            loan.loan_number: loan
            for loan in Loan.objects.for_organization(self.organization)
            .filter(loan_number__in=numbers)
            .select_related("borrower")
        }
        visible = self.scope.visible_numbers(existing) if existing else set()
        borrowers = self._borrowers_for(good, existing)
        plan = _Batch()
        for row, officer, branch in good:
            loan = existing.get(row.loan_number)
            if loan is not None and visible is not None and loan.loan_number not in visible:
                row.error("loan_number", "this loan exists but is not yours to update; ask a manager to import it")
                self.result.reject(row)
                continue
            if loan is not None and row.digest and loan.import_digest == row.digest:
                self.result.unchanged += 1  # the row the last import took, byte for byte: nothing to check
                continue
            outcome = self._plan_row(row, loan, officer, branch, borrowers, plan)
            if outcome == "rejected":
                self.result.reject(row)
            else:
                setattr(self.result, outcome, getattr(self.result, outcome) + 1)
        if self.write:
            self._apply(plan)

    def _borrowers_for(self, good: list, existing: dict[str, Loan]) -> dict[Any, Borrower]:
        """Borrowers by pk (the existing loans') and by (email, first, last) for matching new loans."""
        found: dict[Any, Borrower] = {}
        for loan in existing.values():
            loan.borrower = found.setdefault(loan.borrower_id, loan.borrower)
        emails = {
            row.values["borrower_email"]
            for row, _o, _b in good
            if row.loan_number not in existing and row.values.get("borrower_email")
        }
        if emails:
            matches = Borrower.objects.for_organization(self.organization).filter(email__in=emails).order_by("pk")
            for borrower in matches:
                borrower = found.setdefault(borrower.pk, borrower)
                found.setdefault(_borrower_key(borrower.email, borrower.first_name, borrower.last_name), borrower)
        return found

    def _plan_row(
        self,
        row: LoanRow,
        loan: Loan | None,
        officer: LoanOfficer | None,
        branch: Branch | None,
        borrowers: dict[Any, Borrower],
        plan: _Batch,
    ) -> str:
        values = row.values
        created = loan is None
        if loan is None:
            key = _borrower_key(
                values.get("borrower_email", ""), values["borrower_first_name"], values.get("borrower_last_name", "")
            )
            borrower = borrowers.get(key) if values.get("borrower_email") else None
            if borrower is None:
                borrower = Borrower(organization=self.organization, first_name="")
                if values.get("borrower_email"):
                    borrowers[key] = borrower
            loan = Loan(organization=self.organization, loan_number=row.loan_number, source=self.source)
            loan.borrower = borrower
        borrower = loan.borrower

        loan_changes = self._loan_changes(loan, values, officer, branch)
        if created or loan_changes:
            try:
                loan.clean_fields(exclude=LOAN_FK_EXCLUDE)
            except ValidationError as exc:
                return _rejected(row, exc)
        # The row's digest goes with the loan; a change from a source without digests makes the stored one stale.
        new_digest = row.digest != loan.import_digest and bool(row.digest or loan_changes)
        if new_digest:
            loan.import_digest = row.digest
        borrower_changes, events = self._borrower_changes(borrower, values)
        if not created and not loan_changes and not borrower_changes:
            if new_digest:
                plan.digest_loans.append(loan)
            return "unchanged"
        if borrower_changes or borrower.pk is None:
            try:
                borrower.clean_fields(exclude=["organization"])
            except ValidationError as exc:
                return _rejected(row, exc)

        if borrower.pk is None:
            plan.new_borrowers.setdefault(id(borrower), borrower)
        elif borrower_changes:
            plan.changed_borrowers[borrower.pk] = borrower
            plan.borrower_fields |= borrower_changes
        for channel, action in events:
            plan.consent_events.append(
                ConsentEvent(
                    organization=self.organization,
                    borrower=borrower,
                    channel=channel,
                    action=action,
                    source=self.consent_source,
                    detail={"loan_number": row.loan_number, "line": row.line, "import_id": self.import_id},
                    created_by=self.scope.user,
                )
            )
        if created:
            plan.new_loans.append(loan)
            return "created"
        if loan_changes:
            plan.changed_loans.append(loan)
            plan.loan_fields |= loan_changes | {"import_digest"}
        elif new_digest:
            plan.digest_loans.append(loan)
        return "updated"

    def _loan_changes(
        self, loan: Loan, values: dict[str, Any], officer: LoanOfficer | None, branch: Branch | None
    ) -> set[str]:
        changes: set[str] = set()
        wanted = {name: values[name] for name in LOAN_FIELDS if name in values}
        if "current_upb" in wanted and "upb_as_of" not in wanted:
            same_upb = loan.pk is not None and loan.current_upb == wanted["current_upb"] and loan.upb_as_of
            wanted["upb_as_of"] = loan.upb_as_of if same_upb else self.upload_date
        for name, value in wanted.items():
            if getattr(loan, name) != value:
                setattr(loan, name, value)
                changes.add(name)
        if officer is not None and loan.loan_officer_id != officer.pk:
            loan.loan_officer = officer
            changes.add("loan_officer")
        if branch is not None and loan.branch_id != branch.pk:
            loan.branch = branch
            changes.add("branch")
        return changes

    def _borrower_changes(self, borrower: Borrower, values: dict[str, Any]) -> tuple[set[str], list[tuple[str, str]]]:
        changes: set[str] = set()
        events: list[tuple[str, str]] = []

        def put(name: str, value: Any) -> None:
            if getattr(borrower, name) != value:
                setattr(borrower, name, value)
                changes.add(name)

        for source, target in BORROWER_FIELDS.items():
            if source in values:
                put(target, values[source])
        state = values.get("borrower_state")
        if state is None and not borrower.mailing_state:
            state = values.get("property_state")
        moved = bool(state) and state != borrower.mailing_state
        if state:
            put("mailing_state", state)
        if values.get("borrower_zip"):
            put("mailing_zip", values["borrower_zip"])
        # The zone: the file's; else the ZIP's (mailing, else property); else, when the state is new or no zone is
        # known, the state's when it has only one (a split state's stays unknown: outreach then sends only in the
        # hours that are 8am–9pm in every zone of the state).
        zip_zone = geo.zip_timezone(values.get("borrower_zip", ""), values.get("property_zip", ""))
        if values.get("borrower_timezone"):
            put("timezone", values["borrower_timezone"])
        elif zip_zone:
            put("timezone", zip_zone)
        elif state and (moved or not borrower.timezone):
            put("timezone", single_zone(state))

        if values.get("email_consent") is True and not borrower.email_consent:
            put("email_consent", True)
            put("email_consent_at", self.now)
            events.append((CHANNEL_EMAIL, ConsentEvent.Action.GRANTED))
        elif values.get("email_consent") is False and borrower.email_consent:
            put("email_consent", False)
            events.append((CHANNEL_EMAIL, ConsentEvent.Action.REVOKED))
        if values.get("sms_consent") is True and not borrower.sms_consent:
            put("sms_consent", True)
            put("sms_consent_at", self.now)
            put("sms_consent_source", values["sms_consent_source"])
            events.append((CHANNEL_SMS, ConsentEvent.Action.GRANTED))
        elif values.get("sms_consent") is False and borrower.sms_consent:
            put("sms_consent", False)
            events.append((CHANNEL_SMS, ConsentEvent.Action.REVOKED))
        if values.get("do_not_contact") is True and not borrower.do_not_contact:
            put("do_not_contact", True)
            events.append(("", ConsentEvent.Action.DO_NOT_CONTACT))
        return changes, events

    def _apply(self, plan: _Batch) -> None:
        if plan.new_borrowers:
            Borrower.objects.bulk_create(list(plan.new_borrowers.values()), batch_size=BATCH_SIZE)
        if plan.changed_borrowers:
            for borrower in plan.changed_borrowers.values():
                borrower.updated_at = self.now
            Borrower.objects.bulk_update(
                list(plan.changed_borrowers.values()), sorted(plan.borrower_fields | {"updated_at"}), batch_size=500
            )
        if plan.new_loans:
            for loan in plan.new_loans:
                loan.borrower = loan.borrower  # picks up the primary key bulk_create just gave the borrower
            Loan.objects.bulk_create(plan.new_loans, batch_size=BATCH_SIZE)
        if plan.changed_loans:
            for loan in plan.changed_loans:
                loan.updated_at = self.now
            fields = sorted(plan.loan_fields | {"updated_at"})
            Loan.objects.bulk_update(plan.changed_loans, fields, batch_size=500)
        if plan.digest_loans:
            Loan.objects.bulk_update(plan.digest_loans, ["import_digest"], batch_size=500)
        if plan.consent_events:
            for event in plan.consent_events:
                event.borrower = event.borrower
            ConsentEvent.objects.bulk_create(plan.consent_events, batch_size=BATCH_SIZE)


def _borrower_key(email: str, first: str, last: str) -> tuple[str, str, str]:
    return (email.lower(), first.strip().lower(), last.strip().lower())


def _rejected(row: LoanRow, exc: ValidationError) -> str:
    for name, messages in exc.message_dict.items():
        row.errors.append(RowError(row.line, row.label(name), "; ".join(messages), row.loan_number))
    return "rejected"


def _batched(rows: Iterator[LoanRow], size: int) -> Iterator[list[LoanRow]]:
    while batch := list(islice(rows, size)):
        yield batch


def _opener(loan_import: LoanImport) -> Any:
    return lambda: loan_import.file.storage.open(loan_import.file.name, "rb")


def _run(loan_import: LoanImport, *, write: bool) -> ImportResult:
    importer = importer_for(loan_import.format, _opener(loan_import), today=timezone.localdate())
    run = _Run(
        organization=loan_import.organization,
        user=loan_import.uploaded_by,
        write=write,
        source=Loan.Source.MISMO if loan_import.format == LoanImport.Format.MISMO else Loan.Source.CSV,
        consent_source=f"LOS import: {loan_import.filename}"[:200],
        upload_date=timezone.localdate(loan_import.created_at),
        import_id=loan_import.pk,
    )
    return run.run(importer)


def _store(loan_import: LoanImport, result: ImportResult, *, status: str) -> None:
    loan_import.status = status
    loan_import.total_rows = result.total
    loan_import.created_count = result.created
    loan_import.updated_count = result.updated
    loan_import.unchanged_count = result.unchanged
    loan_import.rejected_count = result.rejected
    loan_import.errors = result.errors


NO_ROWS = "The file has no loan rows: only a header line. Export the loans again with their rows."


def _file_error(exc: ImportFileError) -> ImportResult:
    return ImportResult(errors=[{"line": None, "column": "", "message": str(exc), "loan_number": ""}])


def _stored_upload(
    *, organization: Organization, file: Any, format: str | None, user: Any, filename: str | None
) -> LoanImport:  # noqa: A002
    """A LoanImport holding the uploaded file (status previewed, nothing checked yet)."""
    name = os.path.basename(filename or getattr(file, "name", "") or "upload")[:255]
    if format is None:
        file.seek(0)
        head = file.read(512)
        file.seek(0)
        format = detect_format(name, head)
    profile = profile_for(user) if user is not None else None
    if user is not None and (profile is None or profile.organization_id != organization.pk):
        raise PermissionDenied("Only staff of this organization may import its loans.")
    loan_import = LoanImport(
        organization=organization,
        uploaded_by=user,
        loan_officer=profile,
        filename=name,
        format=format,
        status=LoanImport.Status.PREVIEWED,
    )
    loan_import.full_clean(exclude=["file"])
    file.seek(0)
    loan_import.file.save(name, File(file), save=False)
    loan_import.file_size = loan_import.file.size
    loan_import.save()
    return loan_import


def loan_import_preview(
    *,
    organization: Organization,
    file: Any,
    format: str | None = None,  # noqa: A002 - the name the form and the command use
    user: Any = None,
    filename: str | None = None,
) -> LoanImport:
    """Store an upload and check every row without writing a loan; the counts say what a commit would do."""
    loan_import = _stored_upload(organization=organization, file=file, format=format, user=user, filename=filename)
    try:
        result = _run(loan_import, write=False)
        status = LoanImport.Status.PREVIEWED
        if result.total == 0:
            raise ImportFileError(NO_ROWS)
    except ImportFileError as exc:
        result = _file_error(exc)
        status = LoanImport.Status.REJECTED
    _store(loan_import, result, status=status)
    loan_import.save()
    return loan_import


class _Rollback(Exception):
    def __init__(self, result: ImportResult) -> None:
        self.result = result


def loan_import_commit(*, loan_import: LoanImport, allow_partial: bool = False) -> LoanImport:
    """Write a previewed import. All-or-nothing unless ``allow_partial``; a second commit is refused."""
    with transaction.atomic():
        locked = LoanImport.objects.select_for_update().select_related("organization").get(pk=loan_import.pk)
        if locked.status != LoanImport.Status.PREVIEWED:
            raise ValidationError(f"This import is already {locked.get_status_display().lower()}.")
        try:
            with transaction.atomic():
                result = _run(locked, write=True)
                if result.rejected and not allow_partial:
                    raise _Rollback(result)
            status = LoanImport.Status.COMMITTED
        except _Rollback as rollback:
            result = rollback.result
            result.created = result.updated = result.unchanged = 0
            status = LoanImport.Status.REJECTED
        except ImportFileError as exc:
            result = _file_error(exc)
            status = LoanImport.Status.REJECTED
        _store(locked, result, status=status)
        locked.committed_at = timezone.now()
        locked.save()
    return locked


def loan_import_upload(
    *,
    organization: Organization,
    file: Any,
    filename: str,
    format: str | None = None,  # noqa: A002
    allow_partial: bool = False,
) -> LoanImport:
    """Store a file and commit it in one pass, without a preview nobody looks at (the ``import_loans``
    command, LOS drop folders). Same checks and the same summary as preview + commit."""
    loan_import = _stored_upload(organization=organization, file=file, format=format, user=None, filename=filename)
    return loan_import_commit(loan_import=loan_import, allow_partial=allow_partial)


def loan_import_file(
    *,
    organization: Organization,
    path: str,
    format: str | None = None,  # noqa: A002
    allow_partial: bool = False,
) -> LoanImport:
    """Import a file from disk (the ``import_loans`` command)."""
    with open(path, "rb") as handle:
        return loan_import_upload(
            organization=organization, file=handle, filename=path, format=format, allow_partial=allow_partial
        )


class _RowList:
    def __init__(self, rows: list[LoanRow]) -> None:
        self._rows = rows

    def loan_numbers(self) -> Iterator[tuple[int, str]]:
        return ((row.line, row.loan_number) for row in self._rows)

    def rows(self) -> Iterator[LoanRow]:
        return iter(self._rows)


def loan_rows_upsert(
    *, organization: Organization, rows: Iterable[LoanRow], source: str, consent_source: str, as_of: dt.date
) -> ImportResult:
    """Upsert rows built in code (seed data) through the same checks and batched writes as a file import.

    All-or-nothing: a bad row raises ValidationError listing every problem, and nothing is written.
    """
    with transaction.atomic():
        run = _Run(
            organization=organization,
            user=None,
            write=True,
            source=source,
            consent_source=consent_source,
            upload_date=as_of,
        )
        result = run.run(_RowList(list(rows)))
        if result.rejected:
            raise ValidationError([f"line {e['line']}, {e['column']}: {e['message']}" for e in result.errors])
    return result


__all__ = [
    "BATCH_SIZE",
    "ImportResult",
    "loan_import_commit",
    "loan_import_file",
    "loan_import_preview",
    "loan_import_upload",
    "loan_rows_upsert",
]
