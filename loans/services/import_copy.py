"""Loan imports on PostgreSQL at COPY speed: the same checks as ``imports._Run``, written set-based.

One streaming pass parses and checks every row in Python (the importer, ``finish_row`` and the officer and
branch of each row: exactly the checks of the SQLite path), in a worker thread that hands over chunks of
``CHUNK_ROWS`` rows. The database thread loads each chunk with ``COPY`` into a temporary staging table and
upserts it with a handful of statements, while the next chunk is being parsed:

1. rows whose loan exists but is outside the importer's scope are taken out (the tenancy queryset, as SQL);
2. a plan table joins each row to its loan (organization, loan number) and, for a new loan, to the borrower
   it shares an email and name with; it computes whether the loan and the borrower change, the borrower's
   new state (mailing state, timezone, consent) and the consent transitions;
3. counts come from the plan; with ``write`` new borrowers, changed borrowers, new loans, changed loans and
   consent events are written with one statement each. Unchanged rows are never written.

A CSV is read twice. The first pass parses nothing: it COPYs every row's (line, loan number, digest) — the digest
hashes the row's text under the file's column mapping (``CsvLoanImporter.digest``) — and one anti-join against
``Loan.import_digest`` (the digest of the row the last import took for that loan) marks the rows to parse. The
second pass parses and checks only those, as above. Re-importing yesterday's export parses only what changed;
a row the last import took byte for byte is unchanged, whatever the app changed in that loan since (a sync
takes what changed at the source). Other sources (MISMO, rows built in code) are read once, every row parsed.

Duplicate loan numbers are found from every row's (line, loan number) (a CSV: after its first pass; other
sources: at the end): when there are any, the pass is rolled back to its savepoint and run again with the
duplicates known up front, so they are rejected exactly as on SQLite.

Several rows of one file naming the same borrower: the borrower takes the values of the last of them; a
later row counts as a change only when its borrower values differ from the row before it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from django.db import connection, connections, transaction

from core.models import LoanOfficer, Organization
from core.us_states import STATES, single_zone
from loans import geo
from loans.importers import LoanRow, RowError
from loans.importers.base import find_duplicates
from loans.models import Borrower, ConsentEvent, Loan
from loans.services.import_scope import LOAN_FIELDS, gc_frozen
from loans.services.import_sql import BORROWER_INPUTS, chunk_statement

CHUNK_ROWS = 20_000
CHANNEL_EMAIL = "email"
CHANNEL_SMS = "sms"
NOT_YOURS = "this loan exists but is not yours to update; ask a manager to import it"

BOOLEAN_INPUTS = {"email_consent", "sms_consent", "do_not_contact"}
CHOICE_FIELDS = {"product_type", "amortization", "purpose", "lien_position", "occupancy", "status"}


def _stage_columns() -> list[tuple[str, str]]:
    columns = [("line", "integer"), ("loan_number", "text")]
    for name in LOAN_FIELDS:
        db_type = Loan._meta.get_field(name).db_type(connection) or "text"
        columns.append((name, "text" if "char" in db_type else db_type))
    columns += [("officer_id", "bigint"), ("branch_id", "bigint")]
    columns += [(column, "boolean" if column in BOOLEAN_INPUTS else "text") for column in BORROWER_INPUTS]
    columns.append(("digest", "text"))
    return columns


class _Chunk:
    __slots__ = ("errors", "has_duplicates", "lines", "rejected", "staged", "total")

    def __init__(self) -> None:
        self.has_duplicates = False
        self.total = 0
        self.rejected = 0
        self.errors: list[dict[str, Any]] = []
        self.lines: list[tuple[int, str]] = []  # every row's (line, loan number), for duplicates
        self.staged: list[tuple[Any, ...]] = []  # the good rows, in stage column order


class _Restart(Exception):
    """The file has duplicate loan numbers: roll the pass back and run it again knowing them."""


class CopyRun:
    """The PostgreSQL twin of ``imports._Run`` (same constructor, same ``run``, same ``ImportResult``)."""

    def __init__(self, run: Any) -> None:
        self.base = run  # the _Run: organization, scope, write, source, consent source, dates, result
        self.organization: Organization = run.organization
        self.scope = run.scope
        self.columns = _stage_columns()
        self.number_label = "loan_number"
        self.borrower_sequence = ""

    # --- the pass -------------------------------------------------------------------------------------------

    def run(self, rows_source: Any) -> Any:
        with transaction.atomic(), gc_frozen():
            with connection.cursor() as cursor:
                # A chunk's plan sorts in memory; JIT would spend seconds compiling each chunk's statement.
                cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
            self._create_tables()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Borrower._meta.db_table])
                self.borrower_sequence = cursor.fetchone()[0]
            try:
                try:
                    with transaction.atomic():
                        self._pass(rows_source, duplicates={})
                except _Restart:
                    self._pass(rows_source, duplicates=find_duplicates(rows_source.loan_numbers()))
            finally:
                self._drop_tables()
        return self.base.result

    def _pass(self, rows_source: Any, duplicates: dict[str, list[int]]) -> None:
        result = self.base.result
        result.total = result.created = result.updated = result.unchanged = result.rejected = 0
        result.errors = []
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE _import_lines")
            csv = hasattr(rows_source, "records")
            if csv:  # rows the last import took unchanged are never parsed
                todo = self._digests(cursor, rows_source, duplicates)
                result.total, result.unchanged = todo.total, todo.total - todo.count
                rows = _rows_to_parse(rows_source, todo) if todo.count else iter(())
                chunks = _in_thread(self._chunks(rows, duplicates, lines=False))
            else:
                chunks = _in_thread(self._chunks(rows_source.rows(), duplicates, lines=True))
            for chunk in chunks:
                if chunk.has_duplicates and not duplicates:
                    raise _Restart
                if not csv:  # (a CSV's rows were counted by its digest pass)
                    result.total += chunk.total
                result.rejected += chunk.rejected
                result.errors.extend(chunk.errors)
                self._load(cursor, chunk)
                if chunk.staged:
                    self._upsert(cursor)
            if not duplicates and not csv and self._has_duplicates(cursor):
                raise _Restart

    def _chunks(self, rows: Iterator[LoanRow], duplicates: dict[str, list[int]], *, lines: bool) -> Iterator[_Chunk]:
        """Parse and check rows (runs in the worker thread: no database access here). With ``lines`` each chunk
        carries every row's (line, loan number) for the duplicate check; without, the digest pass has done it."""
        chunk = _Chunk()
        first = True
        for row in rows:
            if first:
                self.number_label, first = row.label("loan_number"), False
            chunk.total += 1
            if lines:
                chunk.lines.append((row.line, row.loan_number))
            self._check(chunk, row, duplicates)
            if chunk.total >= CHUNK_ROWS:
                chunk.has_duplicates = _repeats(chunk.lines)
                yield chunk
                chunk = _Chunk()
        if chunk.total:
            chunk.has_duplicates = _repeats(chunk.lines)
            yield chunk

    def _check(self, chunk: _Chunk, row: LoanRow, duplicates: dict[str, list[int]]) -> None:
        """One parsed row: rejected with its errors, or staged with its officer and branch."""
        lines = duplicates.get(row.loan_number)
        if lines:
            listed = ", ".join(str(line) for line in lines[:10])
            row.error("loan_number", f"loan number {row.loan_number} appears {len(lines)} times (lines {listed})")
        officer, branch = self.scope.assign(row) if row.ok else (None, None)
        if not row.ok:
            chunk.rejected += 1
            chunk.errors.extend(error.as_dict() for error in row.errors)
        else:
            chunk.staged.append(_stage_tuple(row, officer, branch, self.choice_at))

    @cached_property
    def choice_at(self) -> set[int]:
        names = [name for name, _type in self.columns]
        return {names.index(name) for name in CHOICE_FIELDS}

    def _digests(self, cursor: Any, source: Any, duplicates: dict[str, list[int]]) -> _Todo:
        """A CSV's first pass: every row's (line, loan number, digest) in one COPY (read in a worker thread, nothing
        parsed), then one anti-join finds the rows to parse: those whose loan (one the importer may update) did not
        store this very digest at its last import, and every row of a duplicate loan number."""
        self.number_label = source.header[source.number_index]
        total = last = 0
        with cursor.copy("COPY _import_lines (line, loan_number, digest) FROM STDIN") as copy:
            for chunk in _in_thread(_digested(source)):
                for values in chunk:
                    copy.write_row(values)
                total += len(chunk)
                last = chunk[-1][0]
        cursor.execute("ANALYZE _import_lines")  # a million rows or ten: let the planner pick the joins
        if not duplicates and self._has_duplicates(cursor):
            raise _Restart
        todo = _Todo(total, last)
        visible, params = self._visible_clause()
        with cursor.copy(
            f"COPY (SELECT d.line FROM _import_lines d WHERE NOT EXISTS (SELECT FROM {Loan._meta.db_table} l "
            f"WHERE l.organization_id = {int(self.organization.pk)} AND l.loan_number = d.loan_number "
            f"AND l.import_digest = d.digest{visible})) TO STDOUT",
            params or None,
        ) as copy:
            for (line,) in copy.rows():
                todo.mark(int(line))
        for lines in duplicates.values():
            for line in lines:
                todo.mark(line)
        return todo

    def _visible_clause(self) -> tuple[str, list[Any]]:
        """`` AND l.id IN (loans the importer may see)`` for an importer below org admin, else nothing."""
        user = self.scope.user
        if user is None or self.scope.role == LoanOfficer.Role.ORG_ADMIN:
            return "", []
        visible_sql, visible_params = Loan.objects.visible_to(user).values("pk").query.sql_with_params()
        return f" AND l.id IN ({visible_sql})", list(visible_params)

    # --- SQL ------------------------------------------------------------------------------------------------

    def _create_tables(self) -> None:
        stage = ", ".join(f"{name} {db_type}" for name, db_type in self.columns)
        with connection.cursor() as cursor:
            self._drop_tables(cursor)
            cursor.execute(f"CREATE TEMP TABLE _import_stage ({stage})")
            cursor.execute("CREATE TEMP TABLE _import_lines (line integer, loan_number text, digest text)")
            # a state's zone only when it has one (a split state's borrower without a ZIP zone stays unknown)
            pairs = [(code, single_zone(code)) for code in STATES if single_zone(code)]
            cursor.execute(
                "CREATE TEMP TABLE _import_zones AS SELECT * FROM (VALUES "
                + ", ".join(["(%s::text, %s::text)"] * len(pairs))
                + ") AS z(code, zone)",
                [value for pair in pairs for value in pair],
            )

    def _drop_tables(self, cursor: Any = None) -> None:
        tables = "_import_stage, _import_lines, _import_zones"
        if cursor is not None:
            cursor.execute(f"DROP TABLE IF EXISTS {tables}")
            return
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {tables}")

    def _load(self, cursor: Any, chunk: _Chunk) -> None:
        cursor.execute("TRUNCATE _import_stage")
        names = ", ".join(name for name, _type in self.columns)
        with cursor.copy(f"COPY _import_stage ({names}) FROM STDIN") as copy:
            for values in chunk.staged:
                copy.write_row(values)
        if chunk.lines:  # (a CSV's lines were copied by its digest pass)
            with cursor.copy("COPY _import_lines (line, loan_number) FROM STDIN") as copy:
                for values in chunk.lines:
                    copy.write_row(values)

    def _has_duplicates(self, cursor: Any) -> bool:
        """Across chunks (each chunk checked its own rows before it was written)."""
        cursor.execute(
            "SELECT EXISTS (SELECT FROM _import_lines WHERE loan_number <> '' GROUP BY loan_number HAVING count(*) > 1)"
        )
        return cursor.fetchone()[0]

    def _upsert(self, cursor: Any) -> None:
        """One statement per chunk: plan every row, write (when ``write``) and count."""
        result = self.base.result
        self._reject_out_of_scope(cursor)
        cursor.execute(chunk_statement(write=self.base.write), self._params())
        created, updated, unchanged = cursor.fetchone()
        result.created += created
        result.updated += updated
        result.unchanged += unchanged

    def _params(self) -> dict[str, Any]:
        defaults = {f"default_{name}": Loan._meta.get_field(name).get_default() for name in LOAN_FIELDS}
        return {
            **defaults,
            "org": self.organization.pk,
            "now": self.base.now,
            "upload_date": self.base.upload_date,
            "source": str(self.base.source),
            "consent_source": self.base.consent_source,
            "import_id": self.base.import_id,
            "user": getattr(self.scope.user, "pk", None),
            "email": CHANNEL_EMAIL,
            "sms": CHANNEL_SMS,
            "granted": ConsentEvent.Action.GRANTED.value,
            "revoked": ConsentEvent.Action.REVOKED.value,
            "dnc": ConsentEvent.Action.DO_NOT_CONTACT.value,
            "borrower_sequence": self.borrower_sequence,
        }

    def _reject_out_of_scope(self, cursor: Any) -> None:
        """An existing loan the importer may not see is a row error, never overwritten (``import_scope._Scope``)."""
        visible, params = self._visible_clause()
        if not visible:
            return
        cursor.execute(
            f"DELETE FROM _import_stage s USING {Loan._meta.db_table} l "
            f"WHERE l.organization_id = %s AND l.loan_number = s.loan_number AND NOT (true{visible}) "
            "RETURNING s.line, s.loan_number",
            [self.organization.pk, *params],
        )
        result = self.base.result
        for line, number in sorted(cursor.fetchall()):
            result.rejected += 1
            result.errors.append(RowError(line, self.number_label, NOT_YOURS, number).as_dict())


def _stage_tuple(row: LoanRow, officer: Any, branch: Any, choice_at: set[int]) -> tuple[Any, ...]:
    values = row.values
    staged: list[Any] = [row.line, row.loan_number]
    values["borrower_zip_zone"] = geo.zip_timezone(values.get("borrower_zip", ""), values.get("property_zip", ""))
    staged.extend(values.get(name) for name in LOAN_FIELDS)
    staged.append(officer.pk if officer is not None else None)
    staged.append(branch.pk if branch is not None else None)
    staged.extend(values.get(name) for name in BORROWER_INPUTS.values())
    staged.append(row.digest or None)
    for index in choice_at:
        if staged[index] is not None:
            staged[index] = str(staged[index])  # TextChoices members: their value, not the enum's name
    return tuple(staged)


class _Todo:
    """The lines of a CSV that must be parsed, one byte per line (a million-row file: a megabyte)."""

    __slots__ = ("count", "flags", "last", "total")

    def __init__(self, total: int, last_line: int) -> None:
        self.total = total
        self.count = 0
        self.last = 0
        self.flags = bytearray(last_line + 1)

    def mark(self, line: int) -> None:
        if not self.flags[line]:
            self.flags[line] = 1
            self.count += 1
            self.last = max(self.last, line)


def _digested(source: Any) -> Iterator[list[tuple[int, str, str]]]:
    """A CSV's rows in chunks of (line, loan number, digest): reading only, no parsing."""
    digest, number_of = source.digest, source.loan_number_of
    chunk: list[tuple[int, str, str]] = []
    for line, record in source.records():
        chunk.append((line, number_of(record), digest(record)))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rows_to_parse(source: Any, todo: _Todo) -> Iterator[LoanRow]:
    """The CSV's second pass: only the rows the digest pass marked, parsed; stops after the last of them."""
    flags, last = todo.flags, todo.last
    for line, record in source.records():
        if line > last:
            return
        if flags[line]:
            yield source.parse(line, record)


def _repeats(lines: list[tuple[int, str]]) -> bool:
    numbers = [number for _line, number in lines if number]
    return len(set(numbers)) < len(numbers)


_DONE = object()


def _in_thread(chunks: Iterator[_Chunk], depth: int = 2) -> Iterator[_Chunk]:
    """Run the parsing generator in a worker thread, ``depth`` chunks ahead of the database work.

    The worker never touches the database; an exception it raises (a malformed file) is re-raised here.
    Closing this generator early (an error on the database side) stops the worker at its next chunk.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                handoff.put(chunk)
            handoff.put(_DONE)
        except BaseException as exc:  # handed to the database thread, which re-raises it
            handoff.put(exc)
        finally:
            connections.close_all()  # this thread's own connections, should a lazy lookup ever have opened one

    worker = threading.Thread(target=work, name="loan-import-parse", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                handoff.get(timeout=0.1)
            except queue.Empty:
                continue
        worker.join()


__all__ = ["CHUNK_ROWS", "CopyRun"]
