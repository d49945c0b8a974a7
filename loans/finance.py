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


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clipped to the end of shorter months (Jan 31 + 1 month = Feb 28/29).

    The one rule for due dates (DESIGN §4): the n-th payment is due on ``add_months(first_payment_date, n − 1)``,
    so a payment due on a day a month does not have (the 29th–31st) falls on that month's last day.
    """
    year, month_index = divmod(day.year * 12 + (day.month - 1) + months, 12)
    month = month_index + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def payments_made(*, first_payment_date: dt.date, as_of: dt.date, term_months: int) -> int:
    """Scheduled payments due on or before ``as_of`` (the n-th is due on ``add_months(first, n − 1)``)."""
    if as_of < first_payment_date:
        return 0
    months = (as_of.year - first_payment_date.year) * 12 + (as_of.month - first_payment_date.month)
    # This month's due day: the first payment's day, or the month's last day when the month is shorter.
    if as_of.day >= first_payment_date.day or as_of.day == calendar.monthrange(as_of.year, as_of.month)[1]:
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


NPER_TOLERANCE = 1e-6  # a payment count within a millionth of a whole number is that whole number


def horizon_months(*, balance: Decimal, annual_rate: Decimal, monthly_payment: Decimal, limit: int) -> int:
    """How many payments of ``monthly_payment`` retire ``balance`` at ``annual_rate`` (NPER, the last one
    partial), at most ``limit`` (the scheduled months left: a balance above schedule is not retired sooner).

    A count, so it is computed in double precision, in the same order of operations as the SQL match:
    n = −ln(1 − r·B/P) / ln(1 + r), or B/P at 0 %; then the next whole month.
    """
    b, p = float(balance), float(monthly_payment)
    if b <= 0:
        return 0
    if p <= 0:
        return limit
    r = float(annual_rate) / 1200.0
    if r == 0:
        n = b / p
    else:
        x = 1.0 - r * b / p
        if x <= 0:
            return limit
        n = -math.log(x) / math.log(1.0 + r)
    return max(0, min(limit, math.ceil(n - NPER_TOLERANCE)))


def payments_over(*, balance: Decimal, annual_rate: Decimal, monthly_payment: Decimal, months: int) -> Decimal:
    """What ``months`` payments pay in all when the last one clears the balance: (months − 1) level payments and
    a last payment of the balance then owed plus its month's interest (partial for a prepaid loan)."""
    if months <= 0:
        return ZERO
    before_last = balance_after(
        balance=balance, annual_rate=annual_rate, monthly_payment=monthly_payment, payments=months - 1
    )
    with localcontext() as ctx:
        ctx.prec = PRECISION
        last = money(before_last * (1 + monthly_rate(annual_rate)))
    return money(Decimal(monthly_payment) * (months - 1) + last)


def refinance_savings(
    *,
    balance: Decimal,
    current_payment: Decimal,
    current_rate: Decimal,
    horizon: int,
    new_rate: Decimal,
    new_term_months: int | None = None,
    closing_cost_fixed: Decimal = Decimal("1500.00"),
    closing_cost_percent: Decimal = Decimal("1.000"),
) -> Savings:
    """Refinance ``balance`` at ``new_rate`` over ``new_term_months`` (default: the current loan's horizon).

    Interest still to pay: on the current loan, what its payments over the horizon add up to (the last one
    partial) − balance; on the new loan, payment × months − balance. Savings = current − new.
    """
    term = new_term_months or horizon
    new_pmt = payment(principal=balance, annual_rate=new_rate, months=term)
    paid = payments_over(balance=balance, annual_rate=current_rate, monthly_payment=current_payment, months=horizon)
    interest_current = money(paid - balance)
    interest_new = money(new_pmt * term - balance)
    costs = closing_costs(amount=balance, fixed=closing_cost_fixed, percent=closing_cost_percent)
    monthly = money(current_payment - new_pmt)
    total = money(interest_current - interest_new)
    return Savings(
        remaining_months=horizon,
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


def rate_in_force(*, note_rate: Decimal, amortization: str = "fixed", current_rate: Decimal | None = None) -> Decimal:
    """The rate a loan is matched on: an ARM's current rate when the file gives one, else the note rate."""
    return current_rate if amortization == "arm" and current_rate is not None else note_rate


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
    amortization: str = "fixed",
    current_rate: Decimal | None = None,
) -> Savings:
    """The figures the match stores for one loan (DESIGN §4): today's balance refinanced at ``market_rate``
    over the current loan's horizon (the months its payments really take to retire that balance).

    The current payment is the loan's own scheduled payment; for an ARM whose file gives its current rate, the
    payment that amortises today's balance over the months left at that rate.
    """
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
    rate_used = rate_in_force(note_rate=note_rate, amortization=amortization, current_rate=current_rate)
    if amortization == "arm" and current_rate is not None:
        current = payment(principal=balance, annual_rate=rate_used, months=remaining) if balance > 0 else ZERO
    else:
        current = payment(principal=original_amount, annual_rate=note_rate, months=term_months)
    horizon = horizon_months(balance=balance, annual_rate=rate_used, monthly_payment=current, limit=remaining)
    if horizon <= 0:
        raise ValueError("the loan has no balance left")
    return refinance_savings(
        balance=balance,
        current_payment=current,
        current_rate=rate_used,
        horizon=horizon,
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


# ADL 2013, Appendix A (eq. A3): points are deducted over the new loan's life, and what is left of them at once
# when it ends, which happens at the rate θ = μ + 0.10 (moving, or refinancing again).
XSTAR_POINTS_END_EXTRA = 0.10


def points_deduction_factor(
    *, new_term_years: float, discount_rate: float, move_probability: float, inflation: float
) -> float:
    """The present value of the tax deductions of one dollar of points (before τ): straight-line over N years
    while the loan lasts, the unamortised rest when it ends at rate θ, discounted at ρ + π.
    D = (1/k)·((1 − e^(−kN))/N · (ρ+π)/k + θ), k = θ + ρ + π."""
    theta = move_probability + XSTAR_POINTS_END_EXTRA
    k = theta + discount_rate + inflation
    n = float(new_term_years)
    return (1.0 / k) * ((1.0 - math.exp(-k * n)) / n * (discount_rate + inflation) / k + theta)


def optimal_refinance_differential(
    *,
    balance: Decimal | float,
    refinance_cost: Decimal | float,
    note_rate: Decimal | float,
    remaining_years: Decimal | float,
    points: Decimal | float = 0.0,
    new_term_years: Decimal | float | None = None,
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

    κ is the tax-adjusted cost: ``refinance_cost`` (fixed fees + ``points``) less τ × the present value of the
    points' deductions over a new loan of ``new_term_years`` (default: the remaining years), as the paper
    itemizes (its Table 1 with τ = 0.28 is the test). With τ = 0, κ is the whole cost.
    """
    m, cost = float(balance), float(refinance_cost)
    i0, gamma = float(note_rate) / 100.0, float(remaining_years)
    if m <= 0:
        raise ValueError("balance must be positive")
    if gamma <= 0:
        raise ValueError("remaining_years must be positive")
    if cost < 0 or float(points) < 0:
        raise ValueError("refinance_cost and points cannot be negative")
    deduction = points_deduction_factor(
        new_term_years=float(new_term_years) if new_term_years else gamma,
        discount_rate=discount_rate,
        move_probability=move_probability,
        inflation=inflation,
    )
    kappa = cost - tax_rate * deduction * float(points)
    repayment = 1.0 / gamma if i0 == 0 else i0 / (math.exp(i0 * gamma) - 1.0)
    lam = move_probability + repayment + inflation
    psi = math.sqrt(2.0 * (discount_rate + lam)) / rate_volatility
    phi = 1.0 + psi * (discount_rate + lam) * kappa / (m * (1.0 - tax_rate))
    return (phi + lambert_w0_neg_exp(phi)) / psi
