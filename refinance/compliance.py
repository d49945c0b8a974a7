"""The rules of DESIGN §7 that protect the borrower and the investor, beyond paying the old loan off:

* the product fits: conforming at or under today's conforming limit for the property's county, jumbo above it;
  an FHA product within the county's FHA limit; FHA and VA products only for an FHA or VA loan (streamline /
  IRRRL);
* a rate-term refinance gives the borrower a benefit: a lower rate, a shorter term, or an ARM moved to a fixed
  rate (a higher rate on the same or a longer term, without declared cash-out, is refused);
* VA IRRRL (VA to VA): seasoning (six payments made and 210 days since the first payment's due date, on the new
  note date), a rate drop of 0.50 fixed to fixed (2.00 fixed to ARM), closing costs recouped within 36 months by
  the lower payment (not asked when the payment rises because the term is shorter or an ARM becomes fixed);
* FHA streamline (FHA to FHA): seasoning (six payments made, six months past the first payment's due date and
  210 days past closing, on the new note date) and the combined rate (note rate + annual MIP) falls by 0.50.

Each failure is a ``RuleFailure`` with its own message; ``refinance.rules`` runs them with the rest.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from core.choices import Amortization, ProductType
from core.formatting import date_text
from core.money import percent, points
from loans import finance, limits
from loans.models import Loan, LoanProduct

VA_FIXED_TO_ARM_MIN_DROP = Decimal("2.000")
FHA_SEASONING_MONTHS = 6


@dataclass(frozen=True)
class RuleFailure:
    """One failed business rule. ``field`` names the form field it concerns (None: the loan as a whole)."""

    message: str
    field: str | None = None


def _usd(value: Decimal) -> str:
    return f"${value:,.2f}"


def product_fit_failures(*, loan: Loan, product: LoanProduct, new_amount: Decimal, today: dt.date) -> list[RuleFailure]:
    code, kind = product.code, product.product_type
    failures = []
    for government in (ProductType.FHA, ProductType.VA):
        if kind == government and loan.product_type != government:
            label = ProductType(government).label
            failures.append(
                RuleFailure(
                    f"Loan product {code} is {label}: only a {label} loan can be refinanced into it (this loan is "
                    f"{loan.get_product_type_display()}).",
                    "product",
                )
            )
    if kind in (ProductType.CONFORMING, ProductType.JUMBO):
        limit = limits.conforming_limit(county_fips=loan.property_county_fips, as_of=today)
        where = "the property's county" if loan.property_county_fips else "the national baseline (county unknown)"
        if kind == ProductType.CONFORMING and new_amount > limit:
            failures.append(
                RuleFailure(
                    f"The new amount of {_usd(new_amount)} is above today's conforming limit of {_usd(limit)} for "
                    f"{where}: loan product {code} is conforming; use a jumbo product.",
                    "product",
                )
            )
        if kind == ProductType.JUMBO and new_amount <= limit:
            failures.append(
                RuleFailure(
                    f"The new amount of {_usd(new_amount)} is within today's conforming limit of {_usd(limit)} for "
                    f"{where}: loan product {code} is jumbo; use a conforming product.",
                    "product",
                )
            )
    if kind == ProductType.FHA:
        limit = limits.fha_limit(county_fips=loan.property_county_fips, as_of=today)
        if new_amount > limit:
            failures.append(
                RuleFailure(
                    f"The new amount of {_usd(new_amount)} is above the FHA limit of {_usd(limit)} for the property's "
                    "county.",
                    "new_amount",
                )
            )
    return failures


def benefit_failures(
    *,
    loan: Loan,
    product: LoanProduct,
    new_rate: Decimal,
    new_term_months: int,
    effective_date: dt.date,
    cash_out: Decimal,
    costs: Decimal,
    new_payment: Decimal,
    current_payment: Decimal,
) -> list[RuleFailure]:
    current_rate = finance.rate_in_force(
        note_rate=loan.note_rate, amortization=loan.amortization, current_rate=loan.current_rate
    )
    left = finance.remaining_months(
        first_payment_date=loan.first_payment_date, as_of=effective_date, term_months=loan.term_months
    )
    to_fixed = loan.amortization == Amortization.ARM and product.rate_type == Amortization.FIXED
    shorter = new_term_months < left
    failures = []
    if cash_out <= 0 and not (new_rate < current_rate or shorter or to_fixed):
        failures.append(
            RuleFailure(
                f"No benefit to the borrower: {percent(new_rate)} for {new_term_months} months does not lower the "
                f"rate of {percent(current_rate)}, shorten the {left} months left or move an ARM to a fixed rate. A "
                "rate-term refinance must do one of them.",
                "new_rate",
            )
        )
    drop = current_rate - new_rate
    if product.product_type == ProductType.VA and loan.product_type == ProductType.VA:
        failures += _va_irrrl(
            loan=loan,
            product=product,
            drop=drop,
            effective_date=effective_date,
            costs=costs,
            savings=current_payment - new_payment,
            exempt_from_recoupment=shorter or to_fixed,
        )
    if product.product_type == ProductType.FHA and loan.product_type == ProductType.FHA:
        failures += _fha_streamline_seasoning(loan=loan, effective_date=effective_date)
        old_mip = loan.annual_mip if loan.annual_mip is not None else product.annual_mip
        combined_old, combined_new = current_rate + old_mip, new_rate + product.annual_mip
        if combined_old - combined_new < finance.NTB_MIN_RATE_DROP:
            failures.append(
                RuleFailure(
                    f"FHA streamline net tangible benefit: the combined rate (note rate + annual MIP) must fall by at "
                    f"least {points(finance.NTB_MIN_RATE_DROP)}; {percent(combined_old)} → {percent(combined_new)} "
                    f"falls by {points(combined_old - combined_new)}.",
                    "new_rate",
                )
            )
    return failures


def _fha_streamline_seasoning(*, loan: Loan, effective_date: dt.date) -> list[RuleFailure]:
    """HUD 4000.1 (streamline refinance): on the new note date the loan being refinanced has six payments made,
    six full months past its first payment's due date and 210 days past its closing (note) date."""
    made = finance.payments_made(
        first_payment_date=loan.first_payment_date, as_of=effective_date, term_months=loan.term_months
    )
    six_months_after_first = finance.add_months(loan.first_payment_date, FHA_SEASONING_MONTHS)
    days_since_closing = (effective_date - loan.note_date).days
    if (
        made >= finance.SEASONING_PAYMENTS
        and effective_date >= six_months_after_first
        and days_since_closing >= finance.SEASONING_DAYS
    ):
        return []
    return [
        RuleFailure(
            f"FHA streamline seasoning: on the new note date {date_text(effective_date)} the loan must have "
            f"{finance.SEASONING_PAYMENTS} payments made, be {FHA_SEASONING_MONTHS} months past its first payment's "
            f"due date ({date_text(six_months_after_first)}) and {finance.SEASONING_DAYS} days past its closing; "
            f"it has {made} payments and {max(days_since_closing, 0)} days since closing.",
            "effective_date",
        )
    ]


def _va_irrrl(
    *,
    loan: Loan,
    product: LoanProduct,
    drop: Decimal,
    effective_date: dt.date,
    costs: Decimal,
    savings: Decimal,
    exempt_from_recoupment: bool,
) -> list[RuleFailure]:
    failures = []
    if not finance.seasoning_ok(
        first_payment_date=loan.first_payment_date, as_of=effective_date, term_months=loan.term_months
    ):
        made = finance.payments_made(
            first_payment_date=loan.first_payment_date, as_of=effective_date, term_months=loan.term_months
        )
        days = (effective_date - loan.first_payment_date).days
        failures.append(
            RuleFailure(
                f"VA IRRRL seasoning: on the new note date {effective_date.isoformat()} the loan must have "
                f"{finance.SEASONING_PAYMENTS} payments made and be {finance.SEASONING_DAYS} days past its first "
                f"payment's due date; it has {made} payments and {max(days, 0)} days.",
                "effective_date",
            )
        )
    fixed_to_arm = loan.amortization == Amortization.FIXED and product.rate_type == Amortization.ARM
    needed = VA_FIXED_TO_ARM_MIN_DROP if fixed_to_arm else finance.NTB_MIN_RATE_DROP
    if loan.amortization == Amortization.FIXED and drop < needed:
        failures.append(
            RuleFailure(
                f"VA IRRRL net tangible benefit: the rate must fall by at least {points(needed)} "
                f"({'fixed to ARM' if fixed_to_arm else 'fixed to fixed'}); it falls by {points(drop)}.",
                "new_rate",
            )
        )
    if not exempt_from_recoupment:
        months = math.ceil(costs / savings) if savings > 0 else None
        if months is None or months > finance.VA_IRRRL_MAX_RECOUPMENT_MONTHS:
            how = f"in {months} months" if months is not None else "never (the payment does not fall)"
            failures.append(
                RuleFailure(
                    f"VA IRRRL recoupment: the closing costs of {_usd(costs)} must be recouped by the lower payment "
                    f"within {finance.VA_IRRRL_MAX_RECOUPMENT_MONTHS} months; they are recouped {how}.",
                    "new_rate",
                )
            )
    return failures
