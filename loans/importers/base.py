"""What every LOS importer shares: the row result, the canonical fields and the value parsers.

An importer turns one file into a stream of ``LoanRow``: the row's line, its canonical values (Python
values keyed by the names in ``FIELDS``) and every problem found in it. Parsers raise ``ValueError`` with a
reason a loan officer can act on; the importer records it against the row and the column the value came
from. ``finish_row`` then applies the rules both formats share (required values, derived dates,
conventional → conforming/jumbo, cross-field checks). The service in ``loans/services/imports.py`` does
everything that needs the database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, BinaryIO, Protocol

from django.core.validators import validate_email

from core.choices import Amortization, ProductType
from core.money import MAX_RATE
from core.us_states import state_code
from loans import finance, geo, limits
from loans.models import Loan

Opener = Callable[[], BinaryIO]


class ImportFileError(Exception):
    """The file as a whole cannot be imported (not CSV/XML, wrong encoding, missing columns, hostile XML)."""


@dataclass(frozen=True)
class RowError:
    line: int | None
    column: str
    message: str
    loan_number: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message, "loan_number": self.loan_number}


@dataclass
class LoanRow:
    """One loan as read from the file: canonical values plus every problem found in them."""

    line: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # canonical field -> the file's column/element name
    # The row's raw text under the file's column mapping, hashed (CSV only; ``csv_loans.CsvLoanImporter.digest``):
    # stored on the loan it wrote, so that the next import of the same row knows it unchanged without parsing it.
    digest: str = ""

    @property
    def loan_number(self) -> str:
        return self.values.get("loan_number", "")

    @property
    def ok(self) -> bool:
        return not self.errors

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def error(self, name: str, message: str) -> None:
        self.errors.append(RowError(self.line, self.label(name), message, self.loan_number))

    def set(self, name: str, raw: str | None, label: str) -> None:
        """Parse one raw value into the canonical field ``name``; blank means 'not given'."""
        self.labels.setdefault(name, label)
        if raw is None or not raw.strip():
            return
        try:
            self.values[name] = FIELDS[name].parse(raw.strip())
        except ValueError as exc:
            shown = raw.strip()
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            self.errors.append(RowError(self.line, label, f"{exc} (got '{shown}')", self.loan_number))


class Importer(Protocol):
    def loan_numbers(self) -> Iterator[tuple[int, str]]:
        """First pass: (line, loan number) of every row, to find duplicates before anything is written."""
        ...

    def rows(self) -> Iterator[LoanRow]:
        """Second pass: every row, parsed and checked (database checks excluded)."""
        ...


# --- value parsers -----------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^-?\d+(\.\d*)?$|^-?\.\d+$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")
_DATE_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp][Mm])?)?$")


def normalize_key(value: str) -> str:
    """Header and enum spelling, made comparable: 'Loan #' == 'loan number' == 'LoanNumber'."""
    text = value.strip().lower().replace("#", "number")
    text = text.removeprefix("fields.")
    return re.sub(r"[^a-z0-9]", "", text)


_CONTROL = re.compile(r"[\x00-\x1f]")


def parse_text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        if _CONTROL.search(value):
            raise ValueError("contains control characters")
        return value

    return parse


def parse_loan_number(value: str) -> str:
    if len(value) > 40:
        raise ValueError("loan number longer than 40 characters")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", value):
        raise ValueError("loan number may hold only letters, digits and . _ / -")
    return value


# Parsers of values that repeat across a file (dates, amounts, rates, states, enum spellings) keep a bounded
# cache of what they returned: a big export spends most of its parse time on the same few thousand values.
# Only successful parses are cached; a bad value raises every time.
_cached = lru_cache(maxsize=16384)


@_cached
def parse_date(value: str) -> dt.date:
    if match := _DATE_ISO.match(value):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DATE_US.match(value):
        month, day, year = (int(part) for part in match.groups())
    else:
        raise ValueError("not a date; use YYYY-MM-DD or MM/DD/YYYY")
    try:
        date = dt.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"not a real date ({exc})") from exc
    if not 1950 <= date.year <= 2100:
        raise ValueError("date out of range (1950-2100)")
    return date


_EXAMPLES = {"amount": "412000.00 or $412,000.00", "rate": "6.5 or 6.500%", "percent": "36.5"}


def _decimal(value: str, what: str) -> Decimal:
    text = value.replace("$", "").replace(",", "").replace("%", "").replace(" ", "")
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    if not _NUMBER.match(text):
        raise ValueError(f"not a number; write the {what} like {_EXAMPLES[what]}")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex only lets numbers through
        raise ValueError("not a number") from exc
    return -number if negative else number


def _places(number: Decimal, places: int, what: str) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    if number != number.quantize(quantum):
        raise ValueError(f"{what} has more than {places} decimal places")
    return number.quantize(quantum)


@_cached
def parse_money(value: str) -> Decimal:
    number = _decimal(value, "amount")
    if number < 0:
        raise ValueError("amount may not be negative")
    if number >= Decimal("100000000000"):
        raise ValueError("amount too large")
    return _places(number, 2, "amount")


@_cached
def parse_positive_money(value: str) -> Decimal:
    number = parse_money(value)
    if number == 0:
        raise ValueError("amount must be more than zero")
    return number


@_cached
def parse_rate(value: str) -> Decimal:
    number = _decimal(value, "rate")
    if not Decimal("0") <= number <= MAX_RATE:
        raise ValueError(f"rate out of range: give percent between 0 and {MAX_RATE}, e.g. 6.5 or 6.500%")
    if Decimal("0") < number < Decimal("1"):
        raise ValueError("rate looks like a fraction: give percent, e.g. 6.5 for 6.5 %")
    return _places(number, 3, "rate")


@_cached
def parse_premium(value: str) -> Decimal:
    """An annual mortgage-insurance premium in percent (FHA: 0.15–1.05): below 1 is normal, not a fraction."""
    number = _decimal(value, "premium")
    if not Decimal("0") <= number <= Decimal("5"):
        raise ValueError("annual premium out of range: give percent between 0 and 5, e.g. 0.55")
    return _places(number, 3, "premium")


@_cached
def parse_percent(value: str) -> Decimal:
    number = _decimal(value, "percent")
    if not Decimal("0") <= number <= Decimal("100"):
        raise ValueError("percent out of range (0-100)")
    return _places(number, 2, "percent")


def parse_int(low: int, high: int, what: str) -> Callable[[str], int]:
    @_cached
    def parse(value: str) -> int:
        text = value.replace(",", "")
        if re.fullmatch(r"\d+(\.0+)?", text) is None:
            raise ValueError(f"{what} must be a whole number")
        number = int(Decimal(text))
        if not low <= number <= high:
            raise ValueError(f"{what} out of range ({low}-{high})")
        return number

    return parse


_TRUE = {"y", "yes", "true", "t", "1", "x", "optedin", "granted"}
_FALSE = {"n", "no", "false", "f", "0", "optedout", "none"}


@_cached
def parse_bool(value: str) -> bool:
    key = normalize_key(value)
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError("not a yes/no value; use Y/N, yes/no, true/false or 1/0")


# Django's own pattern, compiled here once (its lazy regex wrapper costs more than the match itself).
_email_user_match = re.compile(validate_email.user_regex.pattern, validate_email.user_regex.flags).match


@lru_cache(maxsize=4096)
def _email_domain_ok(domain: str) -> bool:
    return domain in validate_email.domain_allowlist or validate_email.validate_domain_part(domain)


def parse_email(value: str) -> str:
    """Django's ``validate_email``, step for step (a test holds the two equal), with the verdict on the
    domain cached: a portfolio has a million addresses but a few hundred domains."""
    email = value.strip().lower()
    if len(email) > 254:
        raise ValueError("email address too long")
    if "@" not in email:
        raise ValueError("not a valid email address")
    user_part, domain_part = email.rsplit("@", 1)
    if not _email_user_match(user_part) or not _email_domain_ok(domain_part):
        raise ValueError("not a valid email address")
    return email


@_cached
def parse_phone(value: str) -> str:
    """A US mobile number in any common spelling (or an international one with +), as E.164."""
    digits = re.sub(r"\D", "", value)
    if value.strip().startswith("+") and not digits.startswith("1"):
        if not 8 <= len(digits) <= 15 or digits.startswith("0"):
            raise ValueError("not a valid international phone number")
        return "+" + digits
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01" or digits[3] in "01":
        raise ValueError("not a valid US phone number (10 digits, area code first)")
    return "+1" + digits


@_cached
def parse_state(value: str) -> str:
    code = state_code(value)
    if code is None:
        raise ValueError("not a US state; use the two-letter postal code, e.g. IL")
    return code


@_cached
def parse_zip(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) == 5:
        return digits
    if len(digits) == 9:
        return f"{digits[:5]}-{digits[5:]}"
    raise ValueError("not a ZIP code (5 or 9 digits)")


@_cached
def parse_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA timezone, e.g. America/Chicago") from exc
    return value


def parse_choice(mapping: dict[str, str], accepted: str) -> Callable[[str], str]:
    normalized = {normalize_key(key): choice for key, choice in mapping.items()}

    @_cached
    def parse(value: str) -> str:
        key = normalize_key(value)
        if key not in normalized:
            raise ValueError(f"unknown value; use one of {accepted}")
        return normalized[key]

    return parse


CONVENTIONAL = "conventional"  # resolved to conforming or jumbo by the loan limit of the note year

PRODUCT_TYPES = {
    "Conforming": ProductType.CONFORMING,
    "Conventional": CONVENTIONAL,
    "Conv": CONVENTIONAL,
    "Jumbo": ProductType.JUMBO,
    "Non-Conforming": ProductType.JUMBO,
    "FHA": ProductType.FHA,
    "VA": ProductType.VA,
    "USDA": ProductType.USDA,
    "USDA-RHS": ProductType.USDA,
    "RHS": ProductType.USDA,
    "USDARuralDevelopment": ProductType.USDA,
    "FarmersHomeAdministration": ProductType.USDA,
}
AMORTIZATIONS = {
    "Fixed": Amortization.FIXED,
    "Fixed Rate": Amortization.FIXED,
    "FRM": Amortization.FIXED,
    "ARM": Amortization.ARM,
    "Adjustable": Amortization.ARM,
    "AdjustableRate": Amortization.ARM,
    "Adjustable Rate": Amortization.ARM,
}
PURPOSES = {
    "Purchase": Loan.Purpose.PURCHASE,
    "ConstructionToPermanent": Loan.Purpose.PURCHASE,
    "Refinance": Loan.Purpose.RATE_TERM_REFI,
    "Rate-Term Refinance": Loan.Purpose.RATE_TERM_REFI,
    "Rate/Term Refinance": Loan.Purpose.RATE_TERM_REFI,
    "Rate and Term Refinance": Loan.Purpose.RATE_TERM_REFI,
    "NoCash-Out Refinance": Loan.Purpose.RATE_TERM_REFI,
    "No Cash-Out Refinance": Loan.Purpose.RATE_TERM_REFI,
    "Limited Cash-Out Refinance": Loan.Purpose.RATE_TERM_REFI,
    "Cash-Out Refinance": Loan.Purpose.CASH_OUT_REFI,
    "CashOut": Loan.Purpose.CASH_OUT_REFI,
    "Cash-Out": Loan.Purpose.CASH_OUT_REFI,
}
LIENS = {
    "First": Loan.Lien.FIRST,
    "FirstLien": Loan.Lien.FIRST,
    "1": Loan.Lien.FIRST,
    "1st": Loan.Lien.FIRST,
    "Second": Loan.Lien.SECOND,
    "SecondLien": Loan.Lien.SECOND,
    "2": Loan.Lien.SECOND,
    "2nd": Loan.Lien.SECOND,
}
OCCUPANCIES = {
    "Primary": Loan.Occupancy.PRIMARY,
    "PrimaryResidence": Loan.Occupancy.PRIMARY,
    "Primary Residence": Loan.Occupancy.PRIMARY,
    "Owner Occupied": Loan.Occupancy.PRIMARY,
    "Second Home": Loan.Occupancy.SECOND_HOME,
    "SecondHome": Loan.Occupancy.SECOND_HOME,
    "Investment": Loan.Occupancy.INVESTMENT,
    "Investor": Loan.Occupancy.INVESTMENT,
    "Non-Owner Occupied": Loan.Occupancy.INVESTMENT,
}
STATUSES = {
    "Active": Loan.Status.ACTIVE,
    "Current": Loan.Status.ACTIVE,
    "Serviced": Loan.Status.ACTIVE,
    "Paid Off": Loan.Status.PAID_OFF,
    "PaidOff": Loan.Status.PAID_OFF,
    "Refinanced": Loan.Status.REFINANCED,
    "Closed": Loan.Status.CLOSED,
}


@dataclass(frozen=True)
class Field:
    name: str
    parse: Callable[[str], Any]
    help: str
    required: bool = False


_FIELDS = [
    Field("loan_number", parse_loan_number, "The lender's loan number; the key imports upsert on.", required=True),
    Field("mers_min", parse_text(18), "MERS MIN (18 digits)."),
    Field("original_amount", parse_positive_money, "Note (original loan) amount.", required=True),
    Field("note_rate", parse_rate, "Note rate in percent: 6.5, 6.500 or 6.500%.", required=True),
    Field("term_months", parse_int(12, 480, "term in months"), "Term in months (12-480).", required=True),
    Field("note_date", parse_date, "Note / closing date.", required=True),
    Field("first_payment_date", parse_date, "First payment date (derived when absent)."),
    Field("maturity_date", parse_date, "Maturity date (derived when absent)."),
    Field(
        "product_type",
        parse_choice(PRODUCT_TYPES, "Conforming, Conventional, Jumbo, FHA, VA, USDA"),
        "Conforming, Jumbo, FHA, VA, USDA; Conventional (or blank) is classed by the loan limit.",
    ),
    Field("amortization", parse_choice(AMORTIZATIONS, "Fixed, ARM"), "Fixed or ARM (default Fixed)."),
    Field(
        "purpose",
        parse_choice(PURPOSES, "Purchase, Rate-Term Refinance, Cash-Out Refinance"),
        "Purchase, Rate-Term Refinance / NoCash-Out Refinance, Cash-Out Refinance (default Purchase).",
    ),
    Field("lien_position", parse_choice(LIENS, "First, Second"), "First or Second (default First)."),
    Field(
        "occupancy",
        parse_choice(OCCUPANCIES, "Primary, Second Home, Investment"),
        "Primary, Second Home, Investment (default Primary).",
    ),
    Field("current_rate", parse_rate, "ARM: the rate in force now (matched on it instead of the note rate)."),
    Field("annual_mip", parse_premium, "FHA: annual mortgage insurance premium, percent (e.g. 0.55)."),
    Field("current_upb", parse_money, "Current unpaid principal balance."),
    Field("upb_as_of", parse_date, "Date of the current UPB."),
    Field("property_value", parse_positive_money, "Appraised or estimated property value."),
    Field("property_value_date", parse_date, "Date of the property value (default: the note date)."),
    Field("property_street", parse_text(200), "Subject property street."),
    Field("property_city", parse_text(100), "Subject property city."),
    Field("property_state", parse_state, "Subject property state (postal code)."),
    Field("property_zip", parse_zip, "Subject property ZIP."),
    Field("credit_score", parse_int(300, 850, "credit score"), "Credit score at origination (300-850)."),
    Field("dti", parse_percent, "Debt-to-income ratio in percent."),
    Field("days_past_due", parse_int(0, 999, "days past due"), "Days past due (default 0)."),
    Field(
        "status",
        parse_choice(STATUSES, "Active, Paid Off, Refinanced, Closed"),
        "Active, Paid Off, Refinanced, Closed (default Active).",
    ),
    Field("borrower_first_name", parse_text(100), "Borrower first name.", required=True),
    Field("borrower_last_name", parse_text(100), "Borrower last name."),
    Field("borrower_email", parse_email, "Borrower email."),
    Field("borrower_mobile", parse_phone, "Borrower mobile phone; stored as E.164 (+13125550100)."),
    Field("borrower_state", parse_state, "Borrower mailing state (default: the property state)."),
    Field("borrower_zip", parse_zip, "Borrower mailing ZIP (gives the time zone; default: the property ZIP)."),
    Field("borrower_timezone", parse_timezone, "IANA timezone (default: from the mailing ZIP, else property ZIP)."),
    Field("email_consent", parse_bool, "Y/N: consent to marketing email."),
    Field("sms_consent", parse_bool, "Y/N: prior express written consent to marketing SMS."),
    Field("sms_consent_source", parse_text(200), "How the SMS consent was given (required with SMS consent Y)."),
    Field("do_not_contact", parse_bool, "Y marks the borrower do-not-contact (never cleared by an import)."),
    Field("loan_officer", parse_text(254), "Loan officer's email or NMLS id; must be staff of the organization."),
    Field("branch", parse_text(120), "Branch name or code (default: the officer's branch)."),
]
FIELDS: dict[str, Field] = {f.name: f for f in _FIELDS}
REQUIRED = [f.name for f in _FIELDS if f.required]
# A borrower name may also come as one "full name" value, split on the last space.
FULL_NAME = "borrower_full_name"


def first_payment_after(note_date: dt.date) -> dt.date:
    """The usual first payment date: the first day of the second month after the note date."""
    return finance.add_months(note_date.replace(day=1), 2)


def split_full_name(full_name: str) -> tuple[str, str]:
    parts = full_name.strip().rsplit(" ", 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], "")


def finish_row(row: LoanRow, *, today: dt.date) -> LoanRow:
    """Rules both formats share: required values, derived dates and product type, cross-field checks."""
    values = row.values
    if FULL_NAME in values:
        full = values.pop(FULL_NAME)
        if "borrower_first_name" not in values:
            values["borrower_first_name"], last = split_full_name(full)
            values.setdefault("borrower_last_name", last)
    missing = [name for name in REQUIRED if name not in values]
    if missing:
        already_bad = {error.column for error in row.errors}
        for name in missing:
            if row.label(name) not in already_bad:
                row.error(name, "required value is missing")
    if not row.ok:
        return row

    note_date: dt.date = values["note_date"]
    if note_date > today:
        row.error("note_date", f"note date {note_date.isoformat()} is in the future")
    if "first_payment_date" not in values:
        values["first_payment_date"] = first_payment_after(note_date)
    elif values["first_payment_date"] <= note_date:
        row.error("first_payment_date", "first payment date must be after the note date")
    if "maturity_date" not in values:
        values["maturity_date"] = finance.add_months(values["first_payment_date"], values["term_months"] - 1)
    elif values["maturity_date"] <= values["first_payment_date"]:
        row.error("maturity_date", "maturity date must be after the first payment date")
    if values.get("product_type", CONVENTIONAL) == CONVENTIONAL:
        limit = limits.conforming_baseline(note_date.year)
        values["product_type"] = ProductType.JUMBO if values["original_amount"] > limit else ProductType.CONFORMING
    if "property_value" in values:
        values.setdefault("property_value_date", note_date)
    if "property_zip" in values:  # the county (its loan limit) follows the ZIP
        place = geo.zip_place(values["property_zip"])
        values["property_county_fips"] = place.county_fips if place is not None else ""
    if values.get("sms_consent") and not values.get("sms_consent_source"):
        row.error("sms_consent_source", "SMS consent needs its source (how and when the borrower agreed)")
    return row


def find_duplicates(numbers: Iterator[tuple[int, str]]) -> dict[str, list[int]]:
    """Loan numbers that occur more than once in a file, with every line they occur on."""
    first_line: dict[str, int] = {}
    duplicates: dict[str, list[int]] = {}
    for line, number in numbers:
        if not number:
            continue
        if number in first_line:
            duplicates.setdefault(number, [first_line[number]]).append(line)
        else:
            first_line[number] = line
    return duplicates
