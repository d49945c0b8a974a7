"""Validation of command API requests: the envelope and each command's fields, into typed values.

Everything here is about the shape of a request (type, sign, precision, range) and answers 400 with one
``{"field", "message"}`` per problem, all at once. Business rules are the service's (422).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from refinance.limits import (
    AMOUNT_PLACES,
    ID_MAX_LENGTH,
    MAX_AMOUNT,
    MAX_DATE,
    MAX_RATE,
    MAX_TERM,
    MIN_DATE,
    MIN_RATE_EXCLUSIVE,
    MIN_TERM,
    NOTES_MAX_LENGTH,
    RATE_PLACES,
    REASON_MAX_LENGTH,
)

INITIATE = "InitiateLoanRefinanceCommand"
CALCULATE = "CalculateRefinanceAmountQuery"
COMMANDS = (INITIATE, CALCULATE)

NUMERIC_STRING = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")
DIGITS = re.compile(r"^[0-9]+$")


class BadRequest(Exception):
    """400 Invalid request parameters: ``errors`` is a list of {"field", "message"}."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def loads(text: str | bytes) -> Any:
    """JSON with exact decimals (no floats) and without NaN / Infinity."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def parse_envelope(body: bytes) -> tuple[str, dict[str, Any]]:
    """``{"cmd": ..., "data": {...}}`` where ``data`` may also be a JSON-encoded object string."""
    try:
        payload = loads(body)
    except (ValueError, RecursionError):
        raise BadRequest([{"field": "body", "message": "The request body is not valid JSON."}]) from None
    if not isinstance(payload, dict):
        raise BadRequest([{"field": "body", "message": "The request body must be a JSON object with cmd and data."}])
    errors: list[dict[str, str]] = []
    cmd = payload.get("cmd")
    if cmd is None:
        errors.append({"field": "cmd", "message": "This field is required."})
    elif not isinstance(cmd, str) or cmd not in COMMANDS:
        errors.append(
            {"field": "cmd", "message": f"Unknown command: use {INITIATE} or {CALCULATE}."},
        )
    data = payload.get("data")
    if isinstance(data, str):
        try:
            data = loads(data)
        except (ValueError, RecursionError):
            data = None
            errors.append({"field": "data", "message": "Must be a JSON object, or a string that encodes one."})
        else:
            if not isinstance(data, dict):
                errors.append({"field": "data", "message": "Must be a JSON object, or a string that encodes one."})
    elif "data" not in payload or data is None:
        errors.append({"field": "data", "message": "This field is required."})
    elif not isinstance(data, dict):
        errors.append({"field": "data", "message": "Must be a JSON object, or a string that encodes one."})
    if errors:
        raise BadRequest(errors)
    assert isinstance(cmd, str) and isinstance(data, dict)
    return cmd, data


class _Fields:
    """Reads one command's fields, collecting every problem before raising BadRequest."""

    def __init__(self, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
        self.data = data
        self.errors: list[dict[str, str]] = [
            {"field": str(key), "message": "Unknown field."} for key in data if key not in allowed
        ]

    def error(self, name: str, message: str) -> None:
        self.errors.append({"field": name, "message": message})

    def _present(self, name: str, required: bool) -> bool:
        if self.data.get(name) is None:
            if required:
                self.error(name, "This field is required.")
            return False
        return True

    def string(self, name: str, *, required: bool, max_length: int) -> str | None:
        if not self._present(name, required):
            return None
        value = self.data[name]
        if not isinstance(value, str):
            self.error(name, "Must be a string.")
            return None
        value = value.strip()
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.error(name, "Must be valid Unicode text.")
            return None
        if "\x00" in value:
            self.error(name, "Must not contain NUL characters.")
            return None
        if required and not value:
            self.error(name, "This field may not be blank.")
            return None
        if len(value) > max_length:
            self.error(name, f"Must be at most {max_length} characters.")
            return None
        return value

    def decimal(
        self, name: str, *, required: bool, places: int, minimum: Decimal, maximum: Decimal, exclusive_minimum: bool
    ) -> Decimal | None:
        if not self._present(name, required):
            return None
        raw = self.data[name]
        value: Decimal | None = None
        if isinstance(raw, bool):
            value = None
        elif isinstance(raw, int | Decimal):
            value = Decimal(raw)
        elif isinstance(raw, str) and NUMERIC_STRING.match(raw.strip()):
            try:
                value = Decimal(raw.strip())
            except InvalidOperation:
                value = None
        if value is None or not value.is_finite():
            self.error(name, 'Must be a number (a JSON number or a numeric string such as "1234.56").')
            return None
        if exclusive_minimum and value <= minimum:
            self.error(name, f"Must be greater than {minimum}.")
            return None
        if value < minimum:
            self.error(name, f"Must be {minimum} or more.")
            return None
        if value > maximum:
            self.error(name, f"Must be at most {maximum:,}.")
            return None
        if value != value.quantize(Decimal(1).scaleb(-places)):
            self.error(name, f"Must have at most {places} decimal places.")
            return None
        return value

    def integer(self, name: str, *, required: bool, minimum: int, maximum: int) -> int | None:
        if not self._present(name, required):
            return None
        raw = self.data[name]
        value: int | None = None
        if isinstance(raw, bool):
            value = None
        elif isinstance(raw, int):
            value = raw
        elif isinstance(raw, Decimal) and raw.is_finite() and raw == raw.to_integral_value():
            value = int(raw) if abs(raw) < 10**6 else None
        elif isinstance(raw, str) and DIGITS.match(raw.strip()) and len(raw.strip()) <= 6:
            value = int(raw.strip())
        if value is None:
            self.error(name, "Must be a whole number.")
            return None
        if not minimum <= value <= maximum:
            self.error(name, f"Must be between {minimum} and {maximum}.")
            return None
        return value

    def date(self, name: str, *, required: bool, tz: ZoneInfo) -> dt.date | None:
        """An ISO 8601 date, or a date-time: with an offset it is read in the organization's timezone."""
        if not self._present(name, required):
            return None
        raw = self.data[name]
        value: dt.date | None = None
        if isinstance(raw, str):
            text = raw.strip()
            try:
                value = dt.date.fromisoformat(text)
            except ValueError:
                try:
                    moment = dt.datetime.fromisoformat(text)
                    value = moment.astimezone(tz).date() if moment.tzinfo else moment.date()
                except (ValueError, OverflowError):
                    value = None
        if value is None:
            self.error(name, "Must be an ISO 8601 date or date-time, e.g. 2026-12-22 or 2026-12-22T15:00:00Z.")
            return None
        if not MIN_DATE <= value <= MAX_DATE:
            self.error(name, f"Must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}.")
            return None
        return value

    def done(self) -> None:
        if self.errors:
            raise BadRequest(self.errors)


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


@dataclass(frozen=True)
class InitiateCommand:
    existing_loan_id: str
    product_code: str
    new_amount: Decimal
    new_rate: Decimal
    new_term_months: int
    reason: str
    effective_date: dt.date
    cash_out_amount: Decimal
    notes: str
    rate_lock_expiration: dt.date | None = None

    def canonical(self) -> dict[str, Any]:
        """The request as it is understood (numbers normalised): what an Idempotency-Key is bound to."""
        canonical = {
            "cmd": INITIATE,
            "existingLoanId": self.existing_loan_id,
            "newLoanProductId": self.product_code,
            "newLoanAmount": _money(self.new_amount),
            "newInterestRate": format(self.new_rate.quantize(Decimal("0.001")), "f"),
            "newTermMonths": self.new_term_months,
            "refinanceReason": self.reason,
            "effectiveDate": self.effective_date.isoformat(),
            "cashOutAmount": _money(self.cash_out_amount),
            "notes": self.notes,
        }
        if self.rate_lock_expiration is not None:  # absent: the same hash as before the field existed
            canonical["rateLockExpirationDate"] = self.rate_lock_expiration.isoformat()
        return canonical


@dataclass(frozen=True)
class CalculateQuery:
    existing_loan_id: str
    product_code: str
    cash_out_amount: Decimal
    effective_date: dt.date | None


INITIATE_FIELDS = (
    "existingLoanId",
    "newLoanProductId",
    "newLoanAmount",
    "newInterestRate",
    "newTermMonths",
    "refinanceReason",
    "effectiveDate",
    "cashOutAmount",
    "notes",
    "rateLockExpirationDate",
)
CALCULATE_FIELDS = ("existingLoanId", "newLoanProductId", "cashOutAmount", "effectiveDate")


def _cash_out(fields: _Fields) -> Decimal | None:
    return fields.decimal(
        "cashOutAmount",
        required=False,
        places=AMOUNT_PLACES,
        minimum=Decimal(0),
        maximum=MAX_AMOUNT,
        exclusive_minimum=False,
    )


def parse_initiate(data: dict[str, Any], *, tz: ZoneInfo) -> InitiateCommand:
    fields = _Fields(data, INITIATE_FIELDS)
    loan_id = fields.string("existingLoanId", required=True, max_length=ID_MAX_LENGTH)
    product = fields.string("newLoanProductId", required=True, max_length=ID_MAX_LENGTH)
    amount = fields.decimal(
        "newLoanAmount",
        required=True,
        places=AMOUNT_PLACES,
        minimum=Decimal(0),
        maximum=MAX_AMOUNT,
        exclusive_minimum=True,
    )
    new_rate = fields.decimal(
        "newInterestRate",
        required=True,
        places=RATE_PLACES,
        minimum=MIN_RATE_EXCLUSIVE,
        maximum=MAX_RATE,
        exclusive_minimum=True,
    )
    term = fields.integer("newTermMonths", required=True, minimum=MIN_TERM, maximum=MAX_TERM)
    reason = fields.string("refinanceReason", required=True, max_length=REASON_MAX_LENGTH)
    effective = fields.date("effectiveDate", required=True, tz=tz)
    cash_out = _cash_out(fields)
    notes = fields.string("notes", required=False, max_length=NOTES_MAX_LENGTH)
    lock_expiration = fields.date("rateLockExpirationDate", required=False, tz=tz)
    fields.done()
    assert loan_id and product and amount is not None and new_rate is not None and term and reason and effective
    return InitiateCommand(
        existing_loan_id=loan_id,
        product_code=product,
        new_amount=amount,
        new_rate=new_rate,
        new_term_months=term,
        reason=reason,
        effective_date=effective,
        cash_out_amount=cash_out if cash_out is not None else Decimal("0.00"),
        notes=notes or "",
        rate_lock_expiration=lock_expiration,
    )


def parse_calculate(data: dict[str, Any], *, tz: ZoneInfo) -> CalculateQuery:
    fields = _Fields(data, CALCULATE_FIELDS)
    loan_id = fields.string("existingLoanId", required=True, max_length=ID_MAX_LENGTH)
    product = fields.string("newLoanProductId", required=True, max_length=ID_MAX_LENGTH)
    cash_out = _cash_out(fields)
    effective = fields.date("effectiveDate", required=False, tz=tz)
    fields.done()
    assert loan_id and product
    return CalculateQuery(
        existing_loan_id=loan_id,
        product_code=product,
        cash_out_amount=cash_out if cash_out is not None else Decimal("0.00"),
        effective_date=effective,
    )
