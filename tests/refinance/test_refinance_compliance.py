"""Issue 17's rules at initiation (DESIGN §7): undeclared cash-out, a benefit for the borrower, VA IRRRL and FHA
streamline net tangible benefit and seasoning, the product fitting today's county limit, the effective date within
the rate-lock horizon (the API answers 400 / 422, never 500), and the live preview showing the submit's field
errors."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from refinance.api.tokens import api_token_create
from refinance.services import RefinanceRulesFailed, refinance_calculate, refinance_initiate
from tests.factories import LoanFactory, LoanProductFactory, OpportunityFactory, OrgAdminFactory

pytestmark = pytest.mark.django_db

D = Decimal
EFFECTIVE = dt.date(2026, 12, 22)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def loan(officer):
    return LoanFactory(loan_officer=officer, loan_number="LN-12345")


@pytest.fixture
def product(loan):
    return LoanProductFactory(organization=loan.organization)


def failures(loan, **overrides) -> list[str]:
    values = {
        "loan": loan,
        "product_code": "CONF30",
        "new_amount": D("395000.00"),
        "new_rate": D("6.125"),
        "new_term_months": 360,
        "reason": "Lower interest rate",
        "effective_date": EFFECTIVE,
        "actor": loan.loan_officer.user,
    }
    values.update(overrides)
    try:
        refinance_initiate(**values)
    except RefinanceRulesFailed as exc:
        return exc.messages
    return []


def minimum(loan, product, effective=EFFECTIVE) -> Decimal:
    return refinance_calculate(loan=loan, product=product, effective_date=effective).minimum_amount


# --- 4. undeclared cash-out ----------------------------------------------------------------------------------


def test_an_amount_above_payoff_costs_and_tolerance_is_undeclared_cash_out(loan, product):
    loan.property_value = D("900000.00")
    loan.save()
    smallest = minimum(loan, product)
    within = smallest + D("1900.00")  # the costs grow with the amount, so a little less than $2,000 goes out
    assert failures(loan, new_amount=within) == []


def test_undeclared_cash_out_is_refused_and_declared_cash_out_meets_the_cash_out_ltv(loan, product):
    loan.property_value = D("900000.00")
    loan.save()
    big = minimum(loan, product) + D("150000.00")
    messages = failures(loan, new_amount=big)
    assert any("undeclared cash-out" in m and "$2,000.00" in m for m in messages), messages
    # declared, it is checked as cash-out: 80 % of 900,000 = 720,000 is the cap
    assert failures(loan, new_amount=big, cash_out_amount=D("148000.00")) == []
    too_big = minimum(loan, product) + D("400000.00")
    declared = failures(loan, new_amount=too_big, cash_out_amount=D("398000.00"))
    assert any("cash-out refinance" in m for m in declared), declared


def test_the_tolerance_is_an_organization_setting(loan, product):
    org = loan.organization
    org.cash_out_tolerance = D("0.00")
    org.save()
    assert any("undeclared cash-out" in m for m in failures(loan, new_amount=minimum(loan, product) + D("50.00")))


# --- 5. benefit, VA IRRRL and FHA streamline -------------------------------------------------------------------


def test_a_rate_term_refinance_must_benefit_the_borrower(loan, product):
    higher = failures(loan, new_rate=D("9.500"))
    assert any("no benefit" in m.lower() for m in higher), higher
    assert any("9.500\xa0% for 360 months does not lower the rate of 7.250\xa0%" in m for m in higher), higher
    fifteen = LoanProductFactory(organization=loan.organization, code="CONF15", term_months=180)
    assert fifteen.term_months == 180
    # a shorter term is a benefit even at a higher rate (the payment rises, the loan is paid off sooner)
    shorter = failures(loan, product_code="CONF15", new_term_months=180, new_rate=D("7.500"), new_amount=D("395000"))
    assert not any("no benefit" in m.lower() for m in shorter), shorter


def test_an_arm_moving_to_a_fixed_rate_is_a_benefit(loan, product):
    loan.amortization = "arm"
    loan.save()
    assert not any("no benefit" in m.lower() for m in failures(loan, new_rate=D("7.500")))


def va_loan(officer, **extra):
    loan = LoanFactory(
        loan_officer=officer,
        loan_number="VA-1",
        product_type="va",
        note_rate=D("6.625"),
        property_value=D("600000"),
        **extra,
    )
    LoanProductFactory(
        organization=loan.organization, code="VA30", product_type="va", max_ltv_rate_term=D("100"), max_loan_amount=None
    )
    return loan


def test_va_irrrl_needs_half_a_point_and_recoupment_within_36_months(officer):
    loan = va_loan(officer)
    worse = failures(loan, product_code="VA30", new_rate=D("7.625"))
    assert any("no benefit" in m.lower() for m in worse) and any("VA IRRRL" in m for m in worse), worse
    small_drop = failures(loan, product_code="VA30", new_rate=D("6.250"))
    assert any("VA IRRRL" in m and "0.50" in m for m in small_drop), small_drop
    fits = minimum(loan, loan.organization.products.get(code="VA30"))
    assert failures(loan, product_code="VA30", new_rate=D("5.625"), new_amount=fits) == []


def test_va_irrrl_recoupment(officer):
    loan = va_loan(officer)
    product = loan.organization.products.get(code="VA30")
    product.closing_cost_fixed = D("30000.00")  # recouped in far more than 36 months
    product.save()
    messages = failures(loan, product_code="VA30", new_rate=D("6.000"), new_amount=D("430000.00"))
    assert any("recoup" in m and "36 months" in m for m in messages), messages


def test_va_irrrl_seasoning_before_the_new_note_date(officer):
    # first payment 2026-07-01: on 2026-12-22 only 6 payments and 174 days
    loan = va_loan(officer, note_date=dt.date(2026, 5, 20), first_payment_date=dt.date(2026, 7, 1))
    messages = failures(loan, product_code="VA30", new_rate=D("5.625"))
    assert any("seasoning" in m and "210 days" in m for m in messages), messages


def test_fha_streamline_combined_rate_drop(officer):
    loan = LoanFactory(loan_officer=officer, loan_number="FHA-1", product_type="fha", note_rate=D("6.500"))
    loan.annual_mip = D("0.850")
    loan.save()
    fha30 = LoanProductFactory(
        organization=loan.organization, code="FHA30", product_type="fha", annual_mip=D("0.550"), max_loan_amount=None
    )
    # 6.500 + 0.850 = 7.350 → 6.375 + 0.550 = 6.925: a 0.425 drop, not enough
    messages = failures(loan, product_code="FHA30", new_rate=D("6.375"))
    assert any("FHA streamline" in m and "0.50" in m for m in messages), messages
    fits = minimum(loan, fha30)
    assert failures(loan, product_code="FHA30", new_rate=D("6.250"), new_amount=fits) == []  # 7.350 → 6.800


def test_fha_streamline_seasoning_before_the_new_note_date(officer):
    # closed 2026-06-20, first payment due 2026-08-01: on 2026-12-22 five payments, 185 days since closing
    loan = LoanFactory(
        loan_officer=officer,
        loan_number="FHA-2",
        product_type="fha",
        note_rate=D("6.500"),
        note_date=dt.date(2026, 6, 20),
        first_payment_date=dt.date(2026, 8, 1),
    )
    fha30 = LoanProductFactory(
        organization=loan.organization, code="FHA30", product_type="fha", annual_mip=D("0.550"), max_loan_amount=None
    )
    fits = minimum(loan, fha30)
    messages = failures(loan, product_code="FHA30", new_rate=D("5.500"), new_amount=fits)
    assert messages == [
        "FHA streamline seasoning: on the new note date Dec 22, 2026 the loan must have 6 payments made, be 6 months "
        "past its first payment's due date (Feb 1, 2027) and 210 days past its closing; it has 5 payments and 185 "
        "days since closing."
    ], messages
    # Seasoned on 2027-02-01 (7 payments, 226 days), within the 90-day rate-lock horizon of 2026-11-22.
    seasoned = dt.date(2027, 2, 1)
    fits = minimum(loan, fha30, effective=seasoned)
    assert failures(loan, product_code="FHA30", new_rate=D("5.500"), new_amount=fits, effective_date=seasoned) == []


# --- 6. product fit ------------------------------------------------------------------------------------------


def test_the_product_must_fit_the_new_amount_and_the_loan(loan, product):
    jumbo = LoanProductFactory(
        organization=loan.organization, code="JUMBO30", product_type="jumbo", max_loan_amount=D("3000000")
    )
    assert jumbo.product_type == "jumbo"
    messages = failures(loan, product_code="JUMBO30", new_amount=D("395000.00"))
    assert any("conforming" in m and "$832,750.00" in m for m in messages), messages
    LoanProductFactory(organization=loan.organization, code="VA30", product_type="va", max_loan_amount=None)
    assert any("only a VA loan" in m for m in failures(loan, product_code="VA30"))


def test_high_cost_county_limit_fits_a_conforming_product(loan, product):
    loan.property_value = D("1500000.00")
    loan.current_upb = D("1000000.00")
    loan.upb_as_of = dt.date(2026, 11, 22)
    loan.save()
    messages = failures(loan, new_amount=D("1030000.00"))
    assert any("jumbo" in m for m in messages), messages  # baseline $832,750: too big for conforming
    loan.property_county_fips = "06037"  # Los Angeles: $1,249,125
    loan.save()
    assert not any("jumbo" in m for m in failures(loan, new_amount=D("1030000.00")))


# --- 7. the effective date -----------------------------------------------------------------------------------


def test_effective_date_within_the_rate_lock_horizon(loan, product):
    assert any("rate-lock horizon" in m and "90 days" in m for m in failures(loan, effective_date=dt.date(2027, 3, 1)))
    last_day = dt.date(2027, 2, 20)  # 90 days after 2026-11-22
    assert failures(loan, effective_date=last_day, new_amount=minimum(loan, product, last_day)) == []


@pytest.fixture
def call(loan, product):
    admin = OrgAdminFactory(organization=loan.organization)
    _, raw = api_token_create(organization=loan.organization, user=admin.user, name="LOS")

    def _call(**data):
        body = {
            "existingLoanId": "LN-12345",
            "newLoanProductId": "CONF30",
            "newLoanAmount": "395000.00",
            "newInterestRate": "6.125",
            "newTermMonths": 360,
            "refinanceReason": "Lower interest rate",
            "effectiveDate": "2026-12-22",
            **data,
        }
        return Client().post(
            "/api/bpm/cmd",
            json.dumps({"cmd": "InitiateLoanRefinanceCommand", "data": body}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}", "X-Tenant-ID": loan.organization.slug},
        )

    return _call


@pytest.mark.parametrize(("day", "status"), [("9999-12-31", 400), ("9700-01-01", 400), ("2090-01-01", 422)])
def test_far_future_dates_are_400_or_422_never_500(call, day, status):
    response = call(effectiveDate=day)
    assert response.status_code == status, response.content
    if status == 422:
        assert any("rate-lock horizon" in e for e in response.json()["errors"])


# --- 8. the live preview shows the submit's field errors -------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"), [("new_amount", "1e309"), ("new_rate", "abc"), ("new_term_months", "7"), ("new_amount", "")]
)
def test_preview_shows_the_same_field_errors_as_the_submit(officer_client, loan, product, field, value):
    opportunity = OpportunityFactory(loan=loan)
    data = {
        "product": product.pk,
        "new_amount": "395000.00",
        "new_rate": "6.125",
        "new_term_months": "360",
        "effective_date": "2026-12-22",
        "cash_out_amount": "0",
        "reason": "Lower interest rate",
        "submission_token": "a" * 32,
        field: value,
    }
    preview = officer_client.get(reverse("refinance:preview", args=[opportunity.pk]), data).content.decode()
    submit = officer_client.post(reverse("refinance:initiate", args=[opportunity.pk]), data)
    errors = submit.context["form"].errors[field]
    assert "Every business rule passes" not in preview
    for message in errors:
        assert message.replace("'", "&#x27;") in preview


def test_preview_of_a_far_future_date_is_a_field_error_not_a_crash(officer_client, loan, product):
    opportunity = OpportunityFactory(loan=loan)
    data = {"product": product.pk, "new_amount": "395000.00", "new_rate": "6.125", "new_term_months": "360"}
    for day in ("9999-12-31", "9700-01-01"):
        response = officer_client.get(
            reverse("refinance:preview", args=[opportunity.pk]), {**data, "effective_date": day}
        )
        assert response.status_code == 200 and "Must be between 2000-01-01 and 2100-12-31" in response.content.decode()
