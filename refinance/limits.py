"""The field limits of a refinance request, in one place: the opportunity form and the command API read them.

Shape only (type, sign, precision, range); the business rules are ``refinance.rules``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.money import MAX_RATE

MAX_AMOUNT = Decimal("99999999999.99")  # DecimalField(max_digits=13, decimal_places=2)
AMOUNT_DIGITS, AMOUNT_PLACES = 13, 2
MIN_RATE_EXCLUSIVE = Decimal("0")  # a new rate is more than 0 %
RATE_DIGITS, RATE_PLACES = 6, 3
MIN_TERM, MAX_TERM = 12, 480
# The widest dates a request may name at all (400 / a field error); the organization's rate-lock horizon is the
# business rule on top (422 / a rule failure).
MIN_DATE, MAX_DATE = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
ID_MAX_LENGTH = 40
REASON_MAX_LENGTH = 200
NOTES_MAX_LENGTH = 2000

__all__ = [
    "AMOUNT_DIGITS",
    "AMOUNT_PLACES",
    "ID_MAX_LENGTH",
    "MAX_AMOUNT",
    "MAX_DATE",
    "MAX_RATE",
    "MAX_TERM",
    "MIN_DATE",
    "MIN_RATE_EXCLUSIVE",
    "MIN_TERM",
    "NOTES_MAX_LENGTH",
    "RATE_DIGITS",
    "RATE_PLACES",
    "REASON_MAX_LENGTH",
]
