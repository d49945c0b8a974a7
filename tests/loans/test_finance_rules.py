"""Issue 17's rules in loans.finance, each against an independent computation: month-end due dates, the NPER
horizon of a prepaid loan (numpy-financial ``nper``/``pmt`` and a month-by-month iteration), an ARM's current
rate, and x* with taxes (Agarwal, Driscoll & Laibson 2013, Tables 1 and 2)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy_financial as npf
import pytest

from loans import finance

D = Decimal
CENT = D("0.01")


# --- a payment due on a day the month does not have falls on its last day ----------------------------------


@pytest.mark.parametrize(
    ("first", "as_of", "made"),
    [
        (dt.date(2024, 1, 31), dt.date(2024, 2, 28), 1),  # February's due day is the 29th in 2024
        (dt.date(2024, 1, 31), dt.date(2024, 2, 29), 2),  # the example: 2 are due
        (dt.date(2023, 1, 31), dt.date(2023, 2, 28), 2),
        (dt.date(2024, 1, 30), dt.date(2024, 2, 29), 2),
        (dt.date(2024, 1, 31), dt.date(2024, 4, 30), 4),
        (dt.date(2024, 1, 31), dt.date(2024, 4, 29), 3),
        (dt.date(2024, 3, 31), dt.date(2024, 4, 30), 2),
    ],
)
def test_month_end_due_dates_count_on_the_last_day(first, as_of, made):
    assert finance.payments_made(first_payment_date=first, as_of=as_of, term_months=360) == made
    # One rule: the n-th due date is add_months(first, n − 1), and a payment is made once its date has come.
    due = [finance.add_months(first, k) for k in range(12)]
    assert made == sum(1 for day in due if day <= as_of)


def test_month_end_rule_in_payoff_and_roll_forward():
    first = dt.date(2024, 1, 31)
    # interest on a payoff runs from the last due date: February's, not January's
    assert finance.last_due_date(first_payment_date=first, as_of=dt.date(2024, 2, 29), term_months=360) == dt.date(
        2024, 2, 29
    )
    loan = {"original_amount": D("300000.00"), "note_rate": D("6.000"), "term_months": 360, "first_payment_date": first}
    rolled = finance.balance_as_of(
        **loan, as_of=dt.date(2024, 2, 29), current_upb=D("299700.00"), upb_as_of=dt.date(2024, 2, 1)
    )
    assert rolled == finance.balance_after(
        balance=D("299700.00"), annual_rate=D("6.000"), monthly_payment=D("1798.65"), payments=1
    )


def test_add_months_clips_to_the_month_end_and_the_importer_uses_it():
    from loans.importers import base

    assert finance.add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert finance.add_months(dt.date(2023, 12, 31), 2) == dt.date(2024, 2, 29)
    assert getattr(base, "add_months", finance.add_months) is finance.add_months  # one helper for the whole app
    assert base.first_payment_after(dt.date(2024, 1, 31)) == dt.date(2024, 3, 1)


# --- the horizon of a prepaid loan (NPER, last payment partial) ----------------------------------------------


def iterate_payments(balance: Decimal, rate: Decimal, pmt: Decimal) -> tuple[int, Decimal]:
    """Month by month: how many payments retire ``balance`` and how much they add up to (the last partial)."""
    r = rate / 1200
    paid, months = D(0), 0
    while balance > 0:
        owed = (balance * (1 + r)).quantize(CENT)
        pay = min(pmt, owed)
        balance, paid, months = owed - pay, paid + pay, months + 1
    return months, paid


def test_prepaid_loan_is_compared_over_the_months_it_really_has_left():
    """The issue's loan: 400,000 at 7.25 %, 36 payments made, UPB 300,000, today's rate 6.125 %."""
    s = finance.loan_refinance_savings(
        original_amount=D("400000.00"),
        note_rate=D("7.250"),
        term_months=360,
        first_payment_date=dt.date(2023, 12, 1),
        as_of=dt.date(2026, 11, 22),
        market_rate=D("6.125"),
        current_upb=D("300000.00"),
        upb_as_of=dt.date(2026, 11, 22),
    )
    nper = npf.nper(0.0725 / 12, -2728.71, 300000)
    assert 181 < nper < 182
    assert s.remaining_months == math.ceil(nper) == 182
    assert s.current_payment == D("2728.71")
    assert abs(s.new_payment - D(repr(float(-npf.pmt(0.06125 / 12, 182, 300000))))) <= D("0.005")
    months, paid = iterate_payments(D("300000.00"), D("7.250"), D("2728.71"))
    assert months == 182
    assert abs(s.total_interest_current - (paid - D("300000.00"))) <= D("0.05")
    assert s.total_interest_savings == s.total_interest_current - s.total_interest_new
    assert D("33000") < s.total_interest_savings < D("33100")  # not the $269,983 of the scheduled 324 months
    assert s.monthly_savings == D("2728.71") - s.new_payment


def test_on_schedule_loan_keeps_its_scheduled_months():
    s = finance.loan_refinance_savings(
        original_amount=D("400000.00"),
        note_rate=D("7.250"),
        term_months=360,
        first_payment_date=dt.date(2023, 12, 1),
        as_of=dt.date(2026, 11, 22),
        market_rate=D("6.125"),
    )
    assert s.remaining_months == 324
    months, paid = iterate_payments(s.balance, D("7.250"), s.current_payment)
    # (the iteration rounds each month's balance to cents, the closed form does not: cents over 27 years)
    assert months == 324 and abs(s.total_interest_current - (paid - s.balance)) <= D("0.50")


@pytest.mark.parametrize(
    ("balance", "rate", "pmt"),
    [("250000.00", "4.500", "2000.00"), ("99999.99", "0.000", "1000.00"), ("55000.00", "11.250", "1234.56")],
)
def test_horizon_matches_numpy_financial_nper(balance, rate, pmt):
    h = finance.horizon_months(balance=D(balance), annual_rate=D(rate), monthly_payment=D(pmt), limit=480)
    nper = npf.nper(float(rate) / 1200, -float(pmt), float(balance)) if D(rate) else float(balance) / float(pmt)
    assert h == math.ceil(nper - 1e-9)
    assert h == iterate_payments(D(balance), D(rate), D(pmt))[0]


def test_horizon_is_capped_by_the_scheduled_months():
    # a balance above schedule is not retired by the scheduled payments within the term: the last one is larger
    assert (
        finance.horizon_months(balance=D("400000"), annual_rate=D("7.25"), monthly_payment=D("2000"), limit=300) == 300
    )


def test_arm_is_matched_on_its_current_rate_when_known():
    loan = {
        "original_amount": D("400000.00"),
        "note_rate": D("5.000"),
        "term_months": 360,
        "first_payment_date": dt.date(2021, 12, 1),
        "as_of": dt.date(2026, 11, 22),
        "market_rate": D("6.125"),
        "amortization": "arm",
    }
    on_note = finance.loan_refinance_savings(**loan)
    on_current = finance.loan_refinance_savings(**loan, current_rate=D("7.875"))
    assert on_note.current_payment == finance.payment(principal=D("400000.00"), annual_rate=D("5.000"), months=360)
    # the payment that amortises today's balance over the months left at the current rate
    assert on_current.current_payment == finance.payment(
        principal=on_current.balance, annual_rate=D("7.875"), months=on_current.remaining_months
    )
    assert on_current.monthly_savings > 0 > on_note.monthly_savings
    fixed = finance.loan_refinance_savings(**{**loan, "amortization": "fixed"}, current_rate=D("7.875"))
    assert fixed == on_note  # a fixed loan's current rate is its note rate


# --- x* with taxes: Agarwal, Driscoll & Laibson (2013) --------------------------------------------------------


@pytest.mark.parametrize(
    ("balance", "basis_points"), [(1_000_000, 107), (500_000, 118), (250_000, 139), (100_000, 193)]
)
def test_optimal_differential_reproduces_table_1_with_taxes(balance, basis_points):
    """Table 1: κ = $2,000 fixed + 1 point, τ = 28 %, i₀ = 6 %, Γ = 25 years, a new 30-year loan."""
    x = finance.optimal_refinance_differential(
        balance=balance,
        refinance_cost=2000 + 0.01 * balance,
        points=0.01 * balance,
        note_rate=6.0,
        remaining_years=25,
        new_term_years=30,
        tax_rate=0.28,
    )
    assert round(x * 10_000) == basis_points


@pytest.mark.parametrize(
    ("tau", "basis_points"), [(0.0, 99), (0.10, 102), (0.15, 103), (0.25, 106), (0.28, 107), (0.33, 109)]
)
def test_optimal_differential_reproduces_table_2_for_a_million(tau, basis_points):
    x = finance.optimal_refinance_differential(
        balance=1_000_000,
        refinance_cost=12_000,
        points=10_000,
        note_rate=6.0,
        remaining_years=25,
        new_term_years=30,
        tax_rate=tau,
    )
    assert round(x * 10_000) == basis_points
