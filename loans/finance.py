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

from core.money import ZERO, money

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


# --- The match: today's figures of one loan, net tangible benefit, the optimal threshold --------------------


def net_benefit(*, total_interest_savings: Decimal, costs: Decimal) -> Decimal:
    """What the borrower keeps: interest saved over the remaining term minus the closing costs."""
    return money(Decimal(total_interest_savings) - Decimal(costs))


def balance_as_of(
    *,
    original_amount: Decimal,
    note_rate: Decimal,
    term_months: int,
    first_payment_date: dt.date,
    as_of: dt.date,
    current_upb: Decimal | None = None,
    upb_as_of: dt.date | None = None,
) -> Decimal:
    """The unpaid balance on ``as_of``.

    Without a reported UPB: the scheduled balance after the payments made. With one: the reported UPB rolled
    forward by the scheduled payments due after its as-of date (none when it has no date), so a UPB exported
    last month is not read as today's.
    """
    made = payments_made(first_payment_date=first_payment_date, as_of=as_of, term_months=term_months)
    if current_upb is None:
        return scheduled_balance(
            principal=original_amount, annual_rate=note_rate, term_months=term_months, payments=made
        )
    since = 0
    if upb_as_of is not None:
        since = made - payments_made(first_payment_date=first_payment_date, as_of=upb_as_of, term_months=term_months)
    if since <= 0:
        return money(current_upb)
    if made >= term_months:
        return ZERO
    pmt = payment(principal=original_amount, annual_rate=note_rate, months=term_months)
    return balance_after(balance=Decimal(current_upb), annual_rate=note_rate, monthly_payment=pmt, payments=since)


def loan_refinance_savings(
    *,
    original_amount: Decimal,
    note_rate: Decimal,
    term_months: int,
    first_payment_date: dt.date,
    as_of: dt.date,
    market_rate: Decimal,
    current_upb: Decimal | None = None,
    upb_as_of: dt.date | None = None,
    closing_cost_fixed: Decimal = Decimal("1500.00"),
    closing_cost_percent: Decimal = Decimal("1.000"),
) -> Savings:
    """The figures the match stores for one loan: today's balance refinanced at ``market_rate`` over the same
    remaining months, against the loan's own scheduled payment (DESIGN §4)."""
    remaining = remaining_months(first_payment_date=first_payment_date, as_of=as_of, term_months=term_months)
    if remaining <= 0:
        raise ValueError("the loan has no scheduled payments left")
    balance = balance_as_of(
        original_amount=original_amount,
        note_rate=note_rate,
        term_months=term_months,
        first_payment_date=first_payment_date,
        as_of=as_of,
        current_upb=current_upb,
        upb_as_of=upb_as_of,
    )
    current = payment(principal=original_amount, annual_rate=note_rate, months=term_months)
    return refinance_savings(
        balance=balance,
        current_payment=current,
        remaining=remaining,
        new_rate=market_rate,
        closing_cost_fixed=closing_cost_fixed,
        closing_cost_percent=closing_cost_percent,
    )


# --- Net tangible benefit (DESIGN §4) -------------------------------------------------------------------

NTB_MIN_RATE_DROP = Decimal("0.500")  # VA IRRRL and FHA streamline: the note rate must fall by half a point
VA_IRRRL_MAX_RECOUPMENT_MONTHS = 36
SEASONING_PAYMENTS = 6
SEASONING_DAYS = 210


def va_irrrl_ok(*, rate_drop: Decimal, recoupment_months: int | None) -> bool:
    """VA IRRRL: closing costs recouped within 36 months and a rate drop of at least 0.50 points."""
    return (
        recoupment_months is not None
        and recoupment_months <= VA_IRRRL_MAX_RECOUPMENT_MONTHS
        and Decimal(rate_drop) >= NTB_MIN_RATE_DROP
    )


def fha_streamline_ok(*, rate_drop: Decimal) -> bool:
    """FHA streamline: the (combined) rate falls by at least 0.50 points."""
    return Decimal(rate_drop) >= NTB_MIN_RATE_DROP


def seasoning_ok(*, first_payment_date: dt.date, as_of: dt.date, term_months: int) -> bool:
    """Seasoned: six scheduled payments made and 210 days past the first payment's due date."""
    made = payments_made(first_payment_date=first_payment_date, as_of=as_of, term_months=term_months)
    return made >= SEASONING_PAYMENTS and (as_of - first_payment_date).days >= SEASONING_DAYS


# --- Optimal refinancing differential: Agarwal, Driscoll & Laibson (2013) -------------------------------

LAMBERT_W_HALLEY_STEPS = 3  # from the branch-point series: < 1e-9 for every φ ≥ 1 (the SQL match uses the same)


def lambert_w0_neg_exp(phi: float) -> float:
    """W₀(−e^−φ) for φ ≥ 1, the only argument x* needs (it lies in [−1/e, 0), where W₀ runs from −1 to 0).

    Start from the series around the branch point, in p = √(2(1 + e·z)) = √(2(1 − e^(1−φ))):
    W ≈ −1 + p − p²/3 + 11p³/72 − 43p⁴/540; then a fixed number of Halley steps on w·eʷ − z.
    """
    if phi < 1:
        raise ValueError("phi must be at least 1")
    z = -math.exp(-phi)
    p = math.sqrt(2.0 * (1.0 - math.exp(1.0 - phi)))
    w = -1.0 + p - p * p / 3.0 + 11.0 / 72.0 * p**3 - 43.0 / 540.0 * p**4
    for _ in range(LAMBERT_W_HALLEY_STEPS):
        if w <= -1.0:
            return -1.0
        ew = math.exp(w)
        f = w * ew - z
        w = w - f / (ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0))
    return w


def optimal_refinance_differential(
    *,
    balance: Decimal | float,
    refinance_cost: Decimal | float,
    note_rate: Decimal | float,
    remaining_years: Decimal | float,
    discount_rate: float = 0.05,
    rate_volatility: float = 0.0109,
    move_probability: float = 0.10,
    inflation: float = 0.03,
    tax_rate: float = 0.0,
) -> float:
    """x*, the rate drop at which refinancing is optimal, as a fraction (0.0107 = 107 basis points).

    Agarwal, Driscoll & Laibson (2013), "Optimal Mortgage Refinancing: A Closed-Form Solution", JMCB 45(4):
    x* = (φ + W₀(−e^−φ)) / ψ, ψ = √(2(ρ+λ))/σ, φ = 1 + ψ(ρ+λ)κ/(M(1−τ)), λ = μ + i₀/(e^(i₀Γ) − 1) + π.
    ``note_rate`` is in percent (6.0), like every rate in refiapp; i₀ = note_rate / 100. At i₀ = 0 the
    principal-repayment term i₀/(e^(i₀Γ) − 1) takes its limit 1/Γ.
    """
    m, kappa = float(balance), float(refinance_cost)
    i0, gamma = float(note_rate) / 100.0, float(remaining_years)
    if m <= 0:
        raise ValueError("balance must be positive")
    if gamma <= 0:
        raise ValueError("remaining_years must be positive")
    if kappa < 0:
        raise ValueError("refinance_cost cannot be negative")
    repayment = 1.0 / gamma if i0 == 0 else i0 / (math.exp(i0 * gamma) - 1.0)
    lam = move_probability + repayment + inflation
    psi = math.sqrt(2.0 * (discount_rate + lam)) / rate_volatility
    phi = 1.0 + psi * (discount_rate + lam) * kappa / (m * (1.0 - tax_rate))
    return (phi + lambert_w0_neg_exp(phi)) / psi
