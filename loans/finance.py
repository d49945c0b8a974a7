"""Pure, typed mortgage arithmetic on Decimal (DESIGN §4). No database, no Django.

Rates are percent (6.5 = 6.5 %). Amounts are rounded to cents once, with ``refiapp.money.money``,
at the point a figure becomes a published number (a payment, a balance, a saving).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal, localcontext

from refiapp.money import ZERO, money

PRECISION = 34  # digits for intermediate Decimal arithmetic


def monthly_rate(annual_rate_percent: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return Decimal(annual_rate_percent) / Decimal(1200)


def payment(*, principal: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """Level monthly P&I that amortises ``principal`` over ``months``: P·r / (1 − (1+r)^−n), or P/n at 0 %."""
    if months <= 0:
        raise ValueError("months must be positive")
    if principal <= 0:
        return ZERO
    with localcontext() as ctx:
        ctx.prec = PRECISION
        r = monthly_rate(annual_rate)
        if r == 0:
            return money(Decimal(principal) / months)
        growth = (1 + r) ** months
        return money(Decimal(principal) * r * growth / (growth - 1))


def payments_made(*, first_payment_date: dt.date, as_of: dt.date, term_months: int) -> int:
    """Scheduled payments due on or before ``as_of`` (the first is due on ``first_payment_date``)."""
    if as_of < first_payment_date:
        return 0
    months = (as_of.year - first_payment_date.year) * 12 + (as_of.month - first_payment_date.month)
    if as_of.day >= first_payment_date.day:
        months += 1
    return min(months, term_months)


def remaining_months(*, first_payment_date: dt.date, as_of: dt.date, term_months: int) -> int:
    """Scheduled payments left as of ``as_of``."""
    return term_months - payments_made(first_payment_date=first_payment_date, as_of=as_of, term_months=term_months)


def scheduled_balance(*, principal: Decimal, annual_rate: Decimal, term_months: int, payments: int) -> Decimal:
    """Balance after ``payments`` scheduled payments of the rounded level payment (never below zero)."""
    if payments <= 0:
        return money(principal)
    if payments >= term_months:
        return ZERO
    pmt = payment(principal=principal, annual_rate=annual_rate, months=term_months)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        r = monthly_rate(annual_rate)
        if r == 0:
            balance = Decimal(principal) - pmt * payments
        else:
            growth = (1 + r) ** payments
            balance = Decimal(principal) * growth - pmt * (growth - 1) / r
    return max(money(balance), ZERO)


def closing_costs(*, amount: Decimal, fixed: Decimal, percent: Decimal) -> Decimal:
    """A product's closing-cost rule: a fixed fee plus a percent of the new amount."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return money(Decimal(fixed) + Decimal(amount) * Decimal(percent) / 100)


def break_even_months(*, costs: Decimal, monthly_savings: Decimal) -> int | None:
    """Months of savings that pay back the closing costs; None when the refinance never pays back."""
    if monthly_savings <= 0:
        return None
    return math.ceil(Decimal(costs) / Decimal(monthly_savings))


@dataclass(frozen=True)
class Savings:
    remaining_months: int
    balance: Decimal
    current_payment: Decimal
    new_payment: Decimal
    monthly_savings: Decimal
    total_interest_current: Decimal
    total_interest_new: Decimal
    total_interest_savings: Decimal
    closing_costs: Decimal
    break_even_months: int | None
    net_benefit: Decimal


def refinance_savings(
    *,
    balance: Decimal,
    current_payment: Decimal,
    remaining: int,
    new_rate: Decimal,
    new_term_months: int | None = None,
    closing_cost_fixed: Decimal = Decimal("1500.00"),
    closing_cost_percent: Decimal = Decimal("1.000"),
) -> Savings:
    """Refinance ``balance`` at ``new_rate`` over ``new_term_months`` (default: the same remaining months).

    Interest still to pay = payments × months − balance, on both sides; savings = current − new.
    """
    term = new_term_months or remaining
    new_pmt = payment(principal=balance, annual_rate=new_rate, months=term)
    interest_current = money(current_payment * remaining - balance)
    interest_new = money(new_pmt * term - balance)
    costs = closing_costs(amount=balance, fixed=closing_cost_fixed, percent=closing_cost_percent)
    monthly = money(current_payment - new_pmt)
    total = money(interest_current - interest_new)
    return Savings(
        remaining_months=remaining,
        balance=money(balance),
        current_payment=money(current_payment),
        new_payment=new_pmt,
        monthly_savings=monthly,
        total_interest_current=interest_current,
        total_interest_new=interest_new,
        total_interest_savings=total,
        closing_costs=costs,
        break_even_months=break_even_months(costs=costs, monthly_savings=monthly),
        net_benefit=money(total - costs),
    )


# --- Payoff of an existing loan (refinance) -------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clipped to the end of shorter months (Jan 31 + 1 month = Feb 28/29)."""
    year, month_index = divmod(day.year * 12 + (day.month - 1) + months, 12)
    month = month_index + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def last_due_date(*, first_payment_date: dt.date, as_of: dt.date, term_months: int) -> dt.date | None:
    """The latest scheduled due date on or before ``as_of``; None before the first payment is due."""
    made = payments_made(first_payment_date=first_payment_date, as_of=as_of, term_months=term_months)
    if made == 0:
        return None
    return add_months(first_payment_date, made - 1)


def balance_after(*, balance: Decimal, annual_rate: Decimal, monthly_payment: Decimal, payments: int) -> Decimal:
    """A known balance carried forward by ``payments`` level payments (never below zero)."""
    if payments <= 0:
        return money(balance)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        r = monthly_rate(annual_rate)
        if r == 0:
            result = Decimal(balance) - Decimal(monthly_payment) * payments
        else:
            growth = (1 + r) ** payments
            result = Decimal(balance) * growth - Decimal(monthly_payment) * (growth - 1) / r
    return max(money(result), ZERO)


def accrued_interest(*, principal: Decimal, annual_rate: Decimal, days: int) -> Decimal:
    """Simple per-diem interest, actual/365: principal × rate × days / 365 (mortgage interest is paid in arrears)."""
    if days <= 0 or principal <= 0:
        return ZERO
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return money(Decimal(principal) * Decimal(annual_rate) / 100 * days / 365)


@dataclass(frozen=True)
class Payoff:
    principal: Decimal
    interest_from: dt.date
    interest_days: int
    accrued_interest: Decimal
    fees: Decimal
    total: Decimal


def payoff(
    *, principal: Decimal, annual_rate: Decimal, interest_from: dt.date, payoff_date: dt.date, fees: Decimal = ZERO
) -> Payoff:
    """What it takes to pay a loan off on ``payoff_date``: principal + interest accrued since ``interest_from``
    (the last due date, or the note date before the first payment) + fees."""
    days = max((payoff_date - interest_from).days, 0)
    interest = accrued_interest(principal=principal, annual_rate=annual_rate, days=days)
    return Payoff(
        principal=money(principal),
        interest_from=interest_from,
        interest_days=days,
        accrued_interest=interest,
        fees=money(fees),
        total=money(money(principal) + interest + money(fees)),
    )
