"""CSV loan exports: the documented columns (the import help page, /imports/help/, and docs/import-format.md)
and the names common LOS exports use.

The file is streamed twice from its opener (first the loan numbers, to reject duplicates, then every row),
never held in memory. UTF-8 with or without a byte-order mark; comma, semicolon or tab separated.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from loans.importers.base import (
    FIELDS,
    FULL_NAME,
    ImportFileError,
    LoanRow,
    Opener,
    RowError,
    finish_row,
    normalize_key,
    parse_text,
)

# Canonical field -> accepted headers, in priority order (when a file has two columns for the same field the
# first listed wins, e.g. Encompass "Fields.2" total loan amount over "Fields.1109" base loan amount).
# Encompass field ids are accepted as "364" or "Fields.364"; descriptions as in Encompass' field list.
# fmt: off
ALIASES: dict[str, list[str]] = {
    "loan_number": ["loan_number", "Loan Number", "Loan #", "LoanNumber", "Loan No", "Loan ID", "LoanID", "364",
                    "Trans Details Loan #", "Lender Loan Number", "LenderLoanIdentifier"],
    "mers_min": ["mers_min", "MERS MIN", "MIN", "MERS", "MERS_MIN"],
    "original_amount": ["original_amount", "Loan Amount", "Note Amount", "Original Loan Amount", "Original Amount",
                        "Original Balance", "NoteAmount", "2", "Total Loan Amount",
                        "Trans Details Total Loan Amt (w/ MIP/FF)", "1109", "Base Loan Amount",
                        "Trans Details Loan Amt"],
    "note_rate": ["note_rate", "Note Rate", "Interest Rate", "Rate", "NoteRatePercent", "Note Rate %", "3",
                  "Trans Details Interest Rate"],
    "current_rate": ["current_rate", "Current Rate", "Current Interest Rate", "CurrentInterestRatePercent",
                     "Current Note Rate"],
    "annual_mip": ["annual_mip", "Annual MIP", "Annual MIP %", "MIP Annual Rate"],
    "term_months": ["term_months", "Term", "Term (Months)", "Loan Term", "Term Months", "Amortization Term",
                    "LoanMaturityPeriodCount", "4", "Trans Details Term (Mos)"],
    "note_date": ["note_date", "Note Date", "Closing Date", "Closed Date", "Close Date", "Funding Date", "Funded Date",
                  "NoteDate", "748", "Trans Details Closed Date", "MS.FUN", "Tracking - Funded Milestone Date",
                  "1999", "Funding Funds Released"],
    "first_payment_date": ["first_payment_date", "First Payment Date", "First Pymt Date", "ScheduledFirstPaymentDate",
                           "682", "Trans Details First Pymt Date"],
    "maturity_date": ["maturity_date", "Maturity Date", "LoanMaturityDate"],
    "product_type": ["product_type", "Loan Type", "Product Type", "Mortgage Type", "MortgageType", "1172",
                     "Trans Details Loan Type"],
    "amortization": ["amortization", "Amortization Type", "Amort Type", "AmortizationType", "Rate Type", "608",
                     "Trans Details Amort Type"],
    "purpose": ["purpose", "Loan Purpose", "Purpose", "LoanPurposeType", "19", "Trans Details Loan Purpose"],
    "lien_position": ["lien_position", "Lien Position", "Lien", "LienPriorityType", "420",
                      "Trans Details Lien Position"],
    "occupancy": ["occupancy", "Occupancy", "Occupancy Type", "Property Usage", "PropertyUsageType", "1811",
                  "Subject Property Occupancy Status"],
    "current_upb": ["current_upb", "Current UPB", "UPB", "Unpaid Principal Balance", "Current Balance",
                    "Current Principal Balance", "Principal Balance", "UPBAmount"],
    "upb_as_of": ["upb_as_of", "UPB As Of", "UPB Date", "Balance Date", "Balance As Of"],
    "property_value": ["property_value", "Property Value", "Appraised Value", "Appraisal Value",
                       "PropertyValuationAmount", "356", "Subject Property Appraised Value", "Estimated Value",
                       "1821", "Subject Property Est Value", "Purchase Price", "136", "Trans Details Purchase Price"],
    "property_value_date": ["property_value_date", "Property Value Date", "Appraisal Date", "Valuation Date"],
    "property_street": ["property_street", "Property Address", "Property Street", "Subject Property Address",
                        "11", "Subject Property Street"],
    "property_city": ["property_city", "Property City", "12", "Subject Property City"],
    "property_state": ["property_state", "Property State", "Subject State", "14", "Subject Property State"],
    "property_zip": ["property_zip", "Property Zip", "Property ZIP Code", "Property Postal Code", "15",
                     "Subject Property Zip"],
    "credit_score": ["credit_score", "Credit Score", "FICO", "FICO Score", "Representative Credit Score",
                     "Qualifying Credit Score", "VASUMM.X23"],
    "dti": ["dti", "DTI", "Back-End DTI", "Debt To Income", "Debt-to-Income Ratio", "Back End Ratio"],
    "days_past_due": ["days_past_due", "Days Past Due", "Days Delinquent", "DPD"],
    "status": ["status", "Loan Status", "Status", "Servicing Status"],
    "borrower_first_name": ["borrower_first_name", "Borrower First Name", "Borr First Name", "First Name",
                            "FirstName", "4000"],
    "borrower_last_name": ["borrower_last_name", "Borrower Last Name", "Borr Last Name", "Last Name", "LastName",
                           "4002"],
    FULL_NAME: ["borrower_name", "Borrower Name", "Borrower", "Borrower Full Name", "Full Name", "FullName"],
    "borrower_email": ["borrower_email", "Borrower Email", "Borr Email", "Email", "Email Address", "1240",
                       "ContactPointEmailValue"],
    "borrower_mobile": ["borrower_mobile", "Borrower Mobile", "Borrower Cell", "Borr Cell", "Mobile", "Mobile Phone",
                        "Cell Phone", "Cell", "1490"],
    "borrower_state": ["borrower_state", "Borrower State", "Mailing State", "Borr Mailing State", "Present State"],
    "borrower_zip": ["borrower_zip", "Borrower Zip", "Mailing Zip", "Borrower ZIP Code", "Mailing Postal Code",
                     "Present Zip"],
    "borrower_timezone": ["borrower_timezone", "Borrower Timezone", "Timezone", "Time Zone"],
    "email_consent": ["email_consent", "Email Consent", "Email Opt In", "Email Opt-In", "Email Marketing Consent"],
    "sms_consent": ["sms_consent", "SMS Consent", "SMS Opt In", "SMS Opt-In", "Text Consent", "Text Opt In"],
    "sms_consent_source": ["sms_consent_source", "SMS Consent Source", "Consent Source", "SMS Consent Details"],
    "do_not_contact": ["do_not_contact", "Do Not Contact", "DNC", "Do Not Call", "Do Not Solicit"],
    "loan_officer": ["loan_officer", "Loan Officer", "Loan Officer Email", "LO Email", "Loan Officer NMLS",
                     "Loan Officer NMLS ID", "LO NMLS", "LO NMLS ID", "Originator NMLS", "Loan Officer Email Address",
                     "LO"],
    "branch": ["branch", "Branch", "Branch Name", "Branch Code", "Branch ID", "Organization Code"],
}
# fmt: on

_LOOKUP: dict[str, tuple[str, int]] = {}
for _field, _names in ALIASES.items():
    for _priority, _name in enumerate(_names):
        _LOOKUP.setdefault(normalize_key(_name), (_field, _priority))

# Part of every row digest: a new version (a parser that reads the same text differently) makes every stored
# digest stale, so the next import parses every row again.
DIGEST_VERSION = "1"
_PARSERS = {**{name: spec.parse for name, spec in FIELDS.items()}, FULL_NAME: parse_text(201)}
SNIFF_BYTES = 8192


def _open_text(opener: Opener) -> io.TextIOWrapper:
    return io.TextIOWrapper(opener(), encoding="utf-8-sig", newline="", errors="strict")


class CsvLoanImporter:
    def __init__(self, opener: Opener, *, today: dt.date) -> None:
        self.opener = opener
        self.today = today
        self._check_bytes()
        self.delimiter, self.header = self._read_header()
        self.columns, self.ignored = self._map_header(self.header)

    # --- file-level checks ---------------------------------------------------------------------------------

    def _check_bytes(self) -> None:
        with self.opener() as stream:
            head = stream.read(SNIFF_BYTES)
        if not head.strip():
            raise ImportFileError("The file is empty.")
        if b"\x00" in head:
            raise ImportFileError("This is a binary file, not CSV text. Export the loans as CSV (UTF-8) and retry.")
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc) from exc

    def _read_header(self) -> tuple[str, list[str]]:
        with _open_text(self.opener) as text:
            try:
                first = text.readline(65536)
            except UnicodeDecodeError as exc:
                raise _not_utf8(exc) from exc
        delimiter = max([",", ";", "\t"], key=first.count)
        header = next(csv.reader([first], delimiter=delimiter), [])
        if not any(cell.strip() for cell in header):
            raise ImportFileError("The first line must be the header with the column names.")
        return delimiter, [cell.strip() for cell in header]

    @staticmethod
    def _map_header(header: list[str]) -> tuple[dict[int, str], list[str]]:
        chosen: dict[str, tuple[int, int]] = {}  # field -> (priority, column index)
        ignored: list[str] = []
        for index, name in enumerate(header):
            found = _LOOKUP.get(normalize_key(name))
            if found is None:
                if name:
                    ignored.append(name)
                continue
            field, priority = found
            if field not in chosen or priority < chosen[field][0]:
                if field in chosen:
                    ignored.append(header[chosen[field][1]])
                chosen[field] = (priority, index)
            else:
                ignored.append(name)
        fields = set(chosen)
        missing = [
            name
            for name, spec in FIELDS.items()
            if spec.required and name not in fields and not (name == "borrower_first_name" and FULL_NAME in fields)
        ]
        if missing:
            described = "; ".join(f"{name} (e.g. {', '.join(repr(a) for a in ALIASES[name][1:3])})" for name in missing)
            raise ImportFileError(
                f"Missing required columns: {described}. The import help page lists every column and its names."
            )
        return {index: field for field, (_priority, index) in chosen.items()}, ignored

    # --- passes --------------------------------------------------------------------------------------------

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """Every non-blank row as the CSV reader gives it, with its line number (no value parsed)."""
        with _open_text(self.opener) as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            try:
                next(reader, None)
                start = reader.line_num + 1
                for record in reader:
                    line, start = start, reader.line_num + 1
                    if any(record) and (record[0].strip() or any(cell.strip() for cell in record)):
                        yield line, record
            except UnicodeDecodeError as exc:
                raise _not_utf8(exc, line=reader.line_num + 1) from exc
            except csv.Error as exc:
                raise ImportFileError(f"Line {reader.line_num}: the CSV is malformed ({exc}).") from exc

    @cached_property
    def number_index(self) -> int:
        return next(i for i, field in self.columns.items() if field == "loan_number")

    def loan_number_of(self, record: list[str]) -> str:
        index = self.number_index
        return record[index].strip() if index < len(record) else ""

    def loan_numbers(self) -> Iterator[tuple[int, str]]:
        for line, record in self.records():
            yield line, self.loan_number_of(record)

    @cached_property
    def _digest_seed(self) -> bytes:
        mapping = sorted((index, field) for index, field in self.columns.items())
        return f"{DIGEST_VERSION}{self.delimiter}{mapping!r}".encode()

    def digest(self, record: list[str]) -> str:
        """The row's text under this file's column mapping, hashed: equal digests mean equal values."""
        return hashlib.md5(self._digest_seed + "\x1f".join(record).encode(), usedforsecurity=False).hexdigest()

    @cached_property
    def _plan(self) -> list[tuple[int, str, str, Any]]:
        # Every row of a CSV has the same column for each field: the loan number parsed first so that every
        # error names its loan.
        columns = [(self.number_index, "loan_number")] + [
            (index, field) for index, field in self.columns.items() if field != "loan_number"
        ]
        return [(index, field, self.header[index], _PARSERS[field]) for index, field in columns]

    @cached_property
    def _labels(self) -> dict[str, str]:
        return {field: self.header[index] for index, field in self.columns.items()}  # one map shared by all rows

    def parse(self, line: int, record: list[str], digest: str = "") -> LoanRow:
        """One record, parsed and checked (``finish_row``); ``digest`` as ``digest(record)`` when known."""
        row = LoanRow(line=line, labels=self._labels, digest=digest or self.digest(record))
        values, count, width = row.values, len(record), len(self.header)
        for index, field, label, parse in self._plan:
            if index >= count:
                continue
            raw = record[index].strip()
            if not raw:
                continue
            try:
                values[field] = parse(raw)
            except ValueError as exc:
                row.errors.append(_value_error(row, field, label, raw, exc))
        if count > width and any(cell.strip() for cell in record[width:]):
            row.error("loan_number", f"the row has {count} values but the header has {width} columns")
        return finish_row(row, today=self.today)

    def rows(self) -> Iterator[LoanRow]:
        for line, record in self.records():
            yield self.parse(line, record)

    def describe(self) -> dict[str, object]:
        return {
            "columns": {self.header[index]: field for index, field in sorted(self.columns.items())},
            "ignored": self.ignored,
        }


def _value_error(row: LoanRow, field: str, label: str, raw: str, exc: ValueError) -> RowError:
    """The same error ``LoanRow.set`` records (a full name has no single field label)."""
    if field == FULL_NAME:
        return RowError(row.line, label, str(exc), row.loan_number)
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    return RowError(row.line, label, f"{exc} (got '{shown}')", row.loan_number)


def _not_utf8(exc: UnicodeDecodeError, line: int | None = None) -> ImportFileError:
    where = f" near line {line}" if line else ""
    return ImportFileError(
        f"The file is not UTF-8 text{where} (byte 0x{exc.object[exc.start]:02x} is invalid). "
        "Save it as 'CSV UTF-8' and upload it again."
    )
