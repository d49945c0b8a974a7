"""Issue 17's rules in the set-based match, each checked against loans.finance: the NPER horizon of a prepaid loan,
month-end due dates, conforming or jumbo on today's balance and county limit, an ARM's current rate, x* with the
organization's marginal tax rate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy_financial as npf
import pytest
import time_machine

from loans import finance
from pipeline.models import Opportunity
from pipeline.services.matching import match_organization
from tests.factories import LoanFactory, RateObservationFactory, RateSeriesFactory, SeriesMappingFactory
from tests.pipeline.test_matching import PRODUCTS, expected, price

pytestmark = pytest.mark.django_db

D = Decimal
AS_OF = dt.date(2026, 11, 22)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def org(officer):
    return officer.organization


def price_conventional(org):
    price(org)  # conforming 30-year at 6.125
    price(org, product="jumbo", code="OBMMIJUMBO30YF", rate="6.250")


def test_prepaid_loan_is_ranked_on_its_real_horizon(officer, org):
    """400,000 at 7.25 %, 36 payments made, UPB 300,000: 182 payments left, not 324 (numpy-financial nper)."""
    price(org)
    loan = LoanFactory(loan_officer=officer, current_upb=D("300000.00"), upb_as_of=AS_OF)
    match_organization(organization=org, as_of=AS_OF)
    opp = Opportunity.objects.get(loan=loan)
    assert opp.remaining_months == 182 == int(npf.nper(0.0725 / 12, -2728.71, 300000)) + 1
    assert opp.new_payment == finance.payment(principal=D("300000.00"), annual_rate=D("6.125"), months=182)
    assert D("33000") < opp.total_interest_savings < D("33100")  # was $269,983 over the scheduled 324
    assert {k: getattr(opp, k) for k in expected(loan, market=D("6.125"), organization=org)} == expected(
        loan, market=D("6.125"), organization=org
    )


def test_month_end_due_dates_count_in_the_match(officer, org):
    price(org)
    # first payment on the 31st; on 2026-11-30 (November's last day) 11 months of 2026 are paid, not 10
    loan = LoanFactory(loan_officer=officer, first_payment_date=dt.date(2023, 12, 31), note_date=dt.date(2023, 11, 2))
    match_organization(organization=org, as_of=dt.date(2026, 11, 30))
    opp = Opportunity.objects.get(loan=loan)
    assert (
        finance.payments_made(first_payment_date=loan.first_payment_date, as_of=dt.date(2026, 11, 30), term_months=360)
        == 36
    )
    assert opp.remaining_months == 324
    assert opp.current_balance == finance.scheduled_balance(
        principal=D("400000.00"), annual_rate=D("7.250"), term_months=360, payments=36
    )


def test_jumbo_is_decided_on_todays_balance_and_county_limit(officer, org):
    price_conventional(org)
    # a 2022 $700,000 jumbo with $680,000 left fits today's $832,750 conforming limit
    shrunk = LoanFactory(
        loan_officer=officer,
        product_type="jumbo",
        original_amount=D("700000.00"),
        current_upb=D("680000.00"),
        upb_as_of=AS_OF,
        note_date=dt.date(2022, 6, 1),
        first_payment_date=dt.date(2022, 8, 1),
        property_value=D("950000.00"),
    )
    big = {"original_amount": D("1000000.00"), "property_value": D("1400000.00"), "product_type": "conforming"}
    baseline = LoanFactory(loan_officer=officer, **big)  # county unknown: the $832,750 baseline
    los_angeles = LoanFactory(loan_officer=officer, property_county_fips="06037", **big)  # limit $1,249,125
    match_organization(organization=org, as_of=AS_OF)
    opps = {o.loan_id: o for o in Opportunity.objects.all()}
    assert (opps[shrunk.pk].product_type, opps[shrunk.pk].market_series) == ("conforming", "OBMMIC30YF")
    assert opps[shrunk.pk].threshold == D("0.625")  # the conforming band, not jumbo's 0.875
    assert (opps[baseline.pk].product_type, opps[baseline.pk].market_rate) == ("jumbo", D("6.250"))
    assert (opps[los_angeles.pk].product_type, opps[los_angeles.pk].market_rate) == ("conforming", D("6.125"))
    for loan in (shrunk, baseline, los_angeles):
        market = opps[loan.pk].market_rate
        assert {k: getattr(opps[loan.pk], k) for k in expected(loan, market=market, organization=org)} == expected(
            loan, market=market, organization=org
        )


def test_arm_is_matched_on_its_current_rate(officer, org):
    price(org)
    arm = LoanFactory(loan_officer=officer, amortization="arm", note_rate=D("5.000"), current_rate=D("7.875"))
    on_note = LoanFactory(loan_officer=officer, amortization="arm", note_rate=D("5.000"))
    match_organization(organization=org, as_of=AS_OF)
    opp = Opportunity.objects.get(loan=arm)
    assert (opp.note_rate, opp.rate_is_current, opp.is_arm, opp.spread) == (D("7.875"), True, True, D("1.750"))
    assert {k: getattr(opp, k) for k in expected(arm, market=D("6.125"), organization=org)} == expected(
        arm, market=D("6.125"), organization=org
    )
    assert not Opportunity.objects.filter(loan=on_note).exists()  # 5 % note rate: no spread


def test_optimal_threshold_uses_the_organizations_tax_rate(officer, org):
    price(org)
    loan = LoanFactory(loan_officer=officer)
    match_organization(organization=org, as_of=AS_OF)
    untaxed = Opportunity.objects.get(loan=loan).optimal_threshold
    org.marginal_tax_rate = D("28.00")
    org.save()
    match_organization(organization=org, as_of=AS_OF)
    opp = Opportunity.objects.get(loan=loan)
    assert opp.optimal_threshold == expected(loan, market=D("6.125"), organization=org)["optimal_threshold"]
    assert opp.optimal_threshold != untaxed


def test_prices_used_for_every_product_family(officer, org):
    """The conforming family sees both rates; FHA keeps its own."""
    price_conventional(org)
    series = RateSeriesFactory(code=PRODUCTS[("fha", 360)][0], product_type="fha")
    SeriesMappingFactory(organization=org, product_type="fha", term_months=360, series=series)
    RateObservationFactory(series=series, date=dt.date(2026, 11, 20), rate=D("5.875"))
    fha = LoanFactory(loan_officer=officer, product_type="fha")
    match_organization(organization=org, as_of=AS_OF)
    assert Opportunity.objects.get(loan=fha).market_series == "OBMMIFHA30YF"
