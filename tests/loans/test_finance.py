"""loans.finance against hand-worked examples and independent oracles (numpy-financial; a bisection Lambert W)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy_financial as npf
import pytest

from loans import finance

D = Decimal
HALF_CENT = D("0.005")


def oracle_payment(principal: float, rate: float, months: int) -> Decimal:
    return D(repr(float(-npf.pmt(rate / 1200, months, principal)))) if rate else D(principal) / months


# --- payment ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "rate", "months", "expected"),
    [
        (D("400000.00"), D("7.250"), 360, D("2728.71")),  # 400000·r·g/(g−1), r = 7.25/1200, g = (1+r)^360
        (D("200000.00"), D("6.000"), 360, D("1199.10")),  # the textbook 6 % / 30-year example
        (D("100000.00"), D("3.000"), 180, D("690.58")),
        (D("120000.00"), D("0.000"), 360, D("333.33")),  # zero rate: P/n
        (D("100.01"), D("0.000"), 2, D("50.01")),  # 50.005 rounds half up
        (D("1000.00"), D("12.000"), 1, D("1010.00")),  # a single (last) payment is principal plus a month's interest
        (D("0.00"), D("6.000"), 360, D("0.00")),
    ],
)
def test_payment_hand_worked(principal, rate, months, expected):
    assert finance.payment(principal=principal, annual_rate=rate, months=months) == expected


@pytest.mark.parametrize("rate", ["0.000", "0.125", "2.875", "4.500", "6.125", "7.250", "9.990", "18.000"])
@pytest.mark.parametrize("months", [12, 60, 179, 180, 240, 324, 360, 480])
@pytest.mark.parametrize("principal", ["1000.00", "87654.32", "400000.00", "2500000.00"])
def test_payment_matches_numpy_financial(principal, rate, months):
    ours = finance.payment(principal=D(principal), annual_rate=D(rate), months=months)
    exact = oracle_payment(float(principal), float(rate), months)
    assert abs(ours - exact) <= HALF_CENT + D("1e-6")
    assert ours == ours.quantize(D("0.01"))


def test_payment_refuses_no_months():
    with pytest.raises(ValueError):
        finance.payment(principal=D("1000"), annual_rate=D("5"), months=0)


# --- payments made, remaining months ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "made"),
    [
        (dt.date(2023, 11, 30), 0),  # before the first payment
        (dt.date(2023, 12, 1), 1),  # the first payment's due date
        (dt.date(2024, 1, 31), 2),
        (dt.date(2026, 11, 22), 36),
        (dt.date(2053, 10, 31), 359),
        (dt.date(2053, 11, 1), 360),  # the last payment
        (dt.date(2060, 1, 1), 360),  # after maturity: never more than the term
    ],
)
def test_payments_made_and_remaining(as_of, made):
    kwargs = {"first_payment_date": dt.date(2023, 12, 1), "as_of": as_of, "term_months": 360}
    assert finance.payments_made(**kwargs) == made
    assert finance.remaining_months(**kwargs) == 360 - made


def test_payments_made_counts_the_due_day_of_month():
    first = dt.date(2024, 3, 15)
    assert finance.payments_made(first_payment_date=first, as_of=dt.date(2024, 4, 14), term_months=360) == 1
    assert finance.payments_made(first_payment_date=first, as_of=dt.date(2024, 4, 15), term_months=360) == 2


# --- scheduled balance ------------------------------------------------------------------------------


def iterated_balance(principal: Decimal, rate: Decimal, term: int, payments: int) -> Decimal:
    """An independent oracle: month by month, unrounded interest, the rounded level payment."""
    pmt = finance.payment(principal=principal, annual_rate=rate, months=term)
    balance = principal
    r = rate / 1200
    for _ in range(payments):
        balance = balance * (1 + r) - pmt
    return balance


@pytest.mark.parametrize(
    ("principal", "rate", "term", "payments"),
    [("400000.00", "7.250", 360, k) for k in (0, 1, 12, 36, 180, 300, 359)]
    + [("150000.00", "3.125", 180, k) for k in (1, 60, 179)]
    + [("987654.32", "11.875", 480, k) for k in (5, 240, 479)],
)
def test_scheduled_balance_matches_iteration_and_numpy_financial(principal, rate, term, payments):
    principal, rate = D(principal), D(rate)
    ours = finance.scheduled_balance(principal=principal, annual_rate=rate, term_months=term, payments=payments)
    assert abs(ours - iterated_balance(principal, rate, term, payments)) <= HALF_CENT
    pmt = float(finance.payment(principal=principal, annual_rate=rate, months=term))
    assert abs(ours - D(repr(float(npf.fv(float(rate) / 1200, payments, pmt, -float(principal)))))) <= HALF_CENT + D(
        "1e-6"
    )


def test_scheduled_balance_hand_worked_and_the_last_payment():
    principal, rate = D("400000.00"), D("7.250")
    assert finance.scheduled_balance(principal=principal, annual_rate=rate, term_months=360, payments=36) == D(
        "387493.18"
    )
    before_last = finance.scheduled_balance(principal=principal, annual_rate=rate, term_months=360, payments=359)
    # Before the last payment less than one payment is owed; the last payment clears it (rounding residue aside).
    last_payment = before_last * (1 + rate / 1200)
    assert D("2700") < last_payment < D("2740")
    assert finance.scheduled_balance(principal=principal, annual_rate=rate, term_months=360, payments=360) == D("0")


def test_scheduled_balance_zero_rate():
    # 120000 / 360 = 333.33; after 12 payments 120000 − 12 × 333.33 = 116000.04
    assert finance.scheduled_balance(principal=D("120000.00"), annual_rate=D("0"), term_months=360, payments=12) == D(
        "116000.04"
    )


# --- balance as of a date, with a reported UPB ------------------------------------------------------

LOAN = {
    "original_amount": D("400000.00"),
    "note_rate": D("7.250"),
    "term_months": 360,
    "first_payment_date": dt.date(2023, 12, 1),
}


def test_balance_as_of_without_upb_is_the_schedule():
    assert finance.balance_as_of(**LOAN, as_of=dt.date(2026, 11, 22)) == D("387493.18")


def test_reported_upb_is_rolled_forward_by_the_payments_since():
    upb = D("380000.00")
    rolled = finance.balance_as_of(
        **LOAN, as_of=dt.date(2026, 11, 22), current_upb=upb, upb_as_of=dt.date(2026, 9, 30)
    )  # the 2026-10-01 and 2026-11-01 payments fell due since
    pmt = 2728.71
    assert abs(rolled - D(repr(float(npf.fv(7.25 / 1200, 2, pmt, -380000.0))))) <= HALF_CENT + D("1e-6")
    assert rolled == D("379131.63")


@pytest.mark.parametrize("upb_as_of", [None, dt.date(2026, 11, 2), dt.date(2026, 12, 31)])
def test_reported_upb_without_payments_since_is_taken_as_is(upb_as_of):
    balance = finance.balance_as_of(
        **LOAN, as_of=dt.date(2026, 11, 22), current_upb=D("380000.00"), upb_as_of=upb_as_of
    )
    assert balance == D("380000.00")


# --- costs, break-even, savings, net benefit --------------------------------------------------------


def test_closing_costs_round_half_up():
    assert finance.closing_costs(amount=D("387493.18"), fixed=D("1500.00"), percent=D("1.000")) == D("5374.93")
    assert finance.closing_costs(amount=D("100000.50"), fixed=D("1500.00"), percent=D("1.000")) == D("2500.01")


@pytest.mark.parametrize(
    ("costs", "savings", "months"),
    [
        (D("5374.93"), D("280.48"), 20),  # 19.16 → 20
        (D("100.10"), D("50.05"), 2),  # exactly 2
        (D("100.11"), D("50.05"), 3),
        (D("5000.00"), D("0.00"), None),
        (D("5000.00"), D("-3.00"), None),
    ],
)
def test_break_even_months(costs, savings, months):
    assert finance.break_even_months(costs=costs, monthly_savings=savings) == months


def test_net_benefit():
    assert finance.net_benefit(total_interest_savings=D("90869.24"), costs=D("5374.93")) == D("85494.31")


def test_loan_refinance_savings_hand_worked():
    """LoanFactory's loan on 2026-11-22 at 6.125 %: 36 payments made, 324 left."""
    s = finance.loan_refinance_savings(**LOAN, as_of=dt.date(2026, 11, 22), market_rate=D("6.125"))
    assert (s.remaining_months, s.balance, s.current_payment, s.new_payment) == (
        324,
        D("387493.18"),
        D("2728.71"),
        D("2448.23"),
    )
    # The same 324 months on both sides; the current loan's last payment is the 2,722.43 that clears it
    # (2,728.71 rounded up), so 280.48 × 324 − 6.28.
    assert (s.monthly_savings, s.total_interest_savings, s.closing_costs) == (
        D("280.48"),
        D("90869.24"),
        D("5374.93"),
    )
    assert (s.break_even_months, s.net_benefit) == (20, D("85494.31"))
    assert s.new_payment == finance.payment(principal=s.balance, annual_rate=D("6.125"), months=324)
    assert abs(s.new_payment - oracle_payment(387493.18, 6.125, 324)) <= HALF_CENT


def test_loan_refinance_savings_at_zero_market_rate():
    s = finance.loan_refinance_savings(**LOAN, as_of=dt.date(2026, 11, 22), market_rate=D("0"))
    assert s.new_payment == D("1195.97")  # 387493.18 / 324
    assert s.total_interest_savings == (D("2728.71") - D("1195.97")) * 324 - D("6.28")  # the last payment


def test_loan_refinance_savings_refuses_a_matured_loan():
    with pytest.raises(ValueError):
        finance.loan_refinance_savings(**LOAN, as_of=dt.date(2054, 1, 1), market_rate=D("6"))


# --- net tangible benefit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drop", "recoup", "ok"),
    [(D("0.500"), 36, True), (D("0.499"), 12, False), (D("1.000"), 37, False), (D("1.000"), None, False)],
)
def test_va_irrrl(drop, recoup, ok):
    assert finance.va_irrrl_ok(rate_drop=drop, recoupment_months=recoup) is ok


def test_fha_streamline():
    assert finance.fha_streamline_ok(rate_drop=D("0.500")) is True
    assert finance.fha_streamline_ok(rate_drop=D("0.375")) is False


@pytest.mark.parametrize(
    ("as_of", "ok"),
    [
        (dt.date(2024, 5, 31), False),  # 6 payments made (Dec–May), 182 days
        (dt.date(2024, 6, 27), False),  # 7 payments, 209 days
        (dt.date(2024, 6, 28), True),  # 210 days
    ],
)
def test_seasoning(as_of, ok):
    assert finance.seasoning_ok(first_payment_date=dt.date(2023, 12, 1), as_of=as_of, term_months=360) is ok


# --- optimal refinancing differential (Agarwal, Driscoll & Laibson 2013) ----------------------------


def w0_bisection(phi: float) -> float:
    """W₀(−e^−φ) = −y where y ∈ (0, 1] solves y − ln y = φ; bisection, no shared code with finance."""
    lo, hi = 1e-300, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid - math.log(mid) > phi:
            lo = mid
        else:
            hi = mid
    return -(lo + hi) / 2


def oracle_xstar(m, kappa, i0, gamma, rho=0.05, sigma=0.0109, mu=0.10, pi=0.03, tau=0.0):
    lam = mu + (1 / gamma if i0 == 0 else i0 / (math.exp(i0 * gamma) - 1)) + pi
    psi = math.sqrt(2 * (rho + lam)) / sigma
    phi = 1 + psi * (rho + lam) * kappa / (m * (1 - tau))
    return (phi + w0_bisection(phi)) / psi


def test_optimal_differential_hand_worked():
    """M = 250,000, κ = 4,000, i₀ = 6 %, Γ = 25 years, paper defaults:
    λ = 0.10 + 0.06/(e^1.5 − 1) + 0.03 = 0.147233; ψ = √(2·0.197233)/0.0109 = 57.6207;
    φ = 1 + 57.6207·0.197233·0.016 = 1.181835; y − ln y = φ gives y = 0.511575, W = −y;
    x* = (1.181835 − 0.511575)/57.6207 = 0.011632, i.e. 116 basis points."""
    x = finance.optimal_refinance_differential(
        balance=D("250000"), refinance_cost=D("4000"), note_rate=D("6.0"), remaining_years=25
    )
    assert x == pytest.approx(0.0116323, abs=1e-7)


@pytest.mark.parametrize("balance", [60_000, 150_000, 400_000, 1_000_000, 3_000_000])
@pytest.mark.parametrize("note_rate", [0.0, 2.875, 6.0, 7.25, 12.0])
@pytest.mark.parametrize("years", [5.5, 15, 27])
def test_optimal_differential_matches_bisection(balance, note_rate, years):
    kappa = 1500 + balance * 0.01
    ours = finance.optimal_refinance_differential(
        balance=balance, refinance_cost=kappa, note_rate=note_rate, remaining_years=years
    )
    assert ours == pytest.approx(oracle_xstar(balance, kappa, note_rate / 100, years), abs=1e-10)


def test_optimal_differential_parameters():
    base = {"balance": 250_000, "refinance_cost": 4_000, "note_rate": 6.0, "remaining_years": 25}
    plain = finance.optimal_refinance_differential(**base)
    assert finance.optimal_refinance_differential(**base, tax_rate=0.28) == pytest.approx(
        oracle_xstar(250_000, 4_000, 0.06, 25, tau=0.28), abs=1e-10
    )
    assert finance.optimal_refinance_differential(**base, tax_rate=0.28) > plain  # costs are not deductible
    assert finance.optimal_refinance_differential(**{**base, "balance": 1_000_000}) < plain  # fixed costs spread
    assert finance.optimal_refinance_differential(**base, rate_volatility=0.02) > plain  # option value of waiting
    assert finance.optimal_refinance_differential(**{**base, "refinance_cost": 0}) == 0.0


def test_optimal_differential_refuses_nonsense():
    with pytest.raises(ValueError):
        finance.optimal_refinance_differential(balance=0, refinance_cost=1, note_rate=6, remaining_years=25)
    with pytest.raises(ValueError):
        finance.optimal_refinance_differential(balance=1, refinance_cost=1, note_rate=6, remaining_years=0)


@pytest.mark.parametrize("phi", [1.0, 1 + 1e-12, 1 + 1e-6, 1.001, 1.05, 1.2, 1.5, 2.0, 5.0, 20.0, 60.0])
def test_lambert_w0_near_and_far_from_the_branch_point(phi):
    w = finance.lambert_w0_neg_exp(phi)
    # Near the branch point y − ln y is flat, so the bisection oracle itself only resolves about √ε ≈ 1.5e-8.
    assert w == pytest.approx(w0_bisection(phi), abs=1e-9 if phi > 1.001 else 3e-8)
    assert -1.0 <= w <= 0
    assert w * math.exp(w) == pytest.approx(-math.exp(-phi), rel=1e-9, abs=1e-12)
