"""The set-based match: the figures equal loans.finance row by row, the rules of DESIGN §5, idempotency, the
disqualify / requalify cycle, the concurrency claim. Runs on PostgreSQL and SQLite."""

from __future__ import annotations

import calendar
import datetime as dt
import random
from decimal import Decimal

import pytest
import time_machine

from core.models import Organization
from core.money import rate as round_rate
from loans import finance, limits
from loans.models import Loan
from outreach.models import Enrollment
from pipeline.models import Activity, MatchRun, Opportunity, ThresholdRule
from pipeline.selectors.thresholds import Band, default_bands, threshold_bands, threshold_for
from pipeline.services.matching import MatchAlreadyRunning, flat_threshold_table, match_organization
from pipeline.services.thresholds import threshold_rules_ensure_defaults
from tests.factories import (
    EnrollmentFactory,
    LoanFactory,
    LoanOfficerFactory,
    LoanProductFactory,
    MatchRunFactory,
    OpportunityFactory,
    RateObservationFactory,
    RateSeriesFactory,
    SeriesMappingFactory,
    ThresholdRuleFactory,
)

pytestmark = pytest.mark.django_db

D = Decimal
AS_OF = dt.date(2026, 11, 22)
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def org(officer):
    return officer.organization


def price(org, *, product="conforming", term=360, code="OBMMIC30YF", rate="6.125", date=dt.date(2026, 11, 20)):
    series = RateSeriesFactory(code=code, product_type=product, term_months=term)
    SeriesMappingFactory(organization=org, product_type=product, term_months=term, series=series)
    return RateObservationFactory(series=series, date=date, rate=D(rate))


PRODUCTS = {
    ("conforming", 360): ("OBMMIC30YF", "6.125"),
    ("conforming", 180): ("OBMMIC15YF", "5.500"),
    ("jumbo", 360): ("OBMMIJUMBO30YF", "6.250"),
    ("fha", 360): ("OBMMIFHA30YF", "5.875"),
    ("va", 360): ("OBMMIVA30YF", "5.750"),
    ("usda", 360): ("OBMMIUSDA30YF", "6.000"),
}


def price_all(org):
    for (product, term), (code, value) in PRODUCTS.items():
        price(org, product=product, term=term, code=code, rate=value)


def expected(loan: Loan, *, market: Decimal, organization: Organization) -> dict:
    """What loans.finance says the opportunity of ``loan`` must carry."""
    s = finance.loan_refinance_savings(
        original_amount=loan.original_amount,
        note_rate=loan.note_rate,
        term_months=loan.term_months,
        first_payment_date=loan.first_payment_date,
        as_of=AS_OF,
        market_rate=market,
        current_upb=loan.current_upb,
        upb_as_of=loan.upb_as_of,
        closing_cost_fixed=organization.closing_cost_fixed,
        closing_cost_percent=organization.closing_cost_percent,
        amortization=loan.amortization,
        current_rate=loan.current_rate,
    )
    rate_used = finance.rate_in_force(
        note_rate=loan.note_rate, amortization=loan.amortization, current_rate=loan.current_rate
    )
    spread = rate_used - market
    xstar = finance.optimal_refinance_differential(
        balance=s.balance,
        refinance_cost=s.closing_costs,
        points=s.closing_costs - organization.closing_cost_fixed,
        note_rate=rate_used,
        remaining_years=s.remaining_months / 12,
        tax_rate=float(organization.marginal_tax_rate) / 100,
    )
    return {
        "remaining_months": s.remaining_months,
        "current_balance": s.balance,
        "current_payment": s.current_payment,
        "new_payment": s.new_payment,
        "monthly_savings": s.monthly_savings,
        "total_interest_savings": s.total_interest_savings,
        "closing_costs": s.closing_costs,
        "break_even_months": s.break_even_months,
        "net_benefit": s.net_benefit,
        "spread": spread,
        "threshold": threshold_for(
            bands=threshold_bands(organization=organization), product_type=effective_product(loan), balance=s.balance
        ),
        "optimal_threshold": round_rate(xstar * 100),
        "seasoning_ok": finance.seasoning_ok(
            first_payment_date=loan.first_payment_date, as_of=AS_OF, term_months=loan.term_months
        ),
        "va_irrrl_ok": finance.va_irrrl_ok(rate_drop=spread, recoupment_months=s.break_even_months)
        if loan.product_type == "va"
        else None,
        "fha_streamline_ok": finance.fha_streamline_ok(rate_drop=spread) if loan.product_type == "fha" else None,
        "is_arm": loan.amortization == "arm",
        "product_type": effective_product(loan),
        "note_rate": rate_used,
        "rate_is_current": rate_used is not loan.note_rate,
    }


def effective_product(loan: Loan) -> str:
    """Conforming or jumbo on today's balance against the county's limit (DESIGN §5); other products as they are."""
    if loan.product_type not in ("conforming", "jumbo"):
        return loan.product_type
    balance = finance.balance_as_of(
        original_amount=loan.original_amount,
        note_rate=loan.note_rate,
        term_months=loan.term_months,
        first_payment_date=loan.first_payment_date,
        as_of=AS_OF,
        current_upb=loan.current_upb,
        upb_as_of=loan.upb_as_of,
    )
    limit = limits.conforming_limit(county_fips=loan.property_county_fips, as_of=AS_OF)
    return "jumbo" if balance > limit else "conforming"


def snapshot() -> tuple[list[dict], list[dict]]:
    return list(Opportunity.objects.order_by("pk").values()), list(Activity.objects.order_by("pk").values())


# --- the figures ----------------------------------------------------------------------------------


def test_new_opportunity_carries_the_finance_figures(officer, org):
    price(org)
    loan = LoanFactory(loan_officer=officer)
    run = match_organization(organization=org, as_of=AS_OF)

    opp = Opportunity.objects.get(loan=loan)
    assert {k: getattr(opp, k) for k in expected(loan, market=D("6.125"), organization=org)} == expected(
        loan, market=D("6.125"), organization=org
    )
    assert (opp.current_balance, opp.monthly_savings, opp.total_interest_savings, opp.net_benefit) == (
        D("387493.18"),
        D("280.48"),
        D("90869.24"),
        D("85494.31"),
    )
    assert (opp.market_series, opp.market_rate, opp.market_rate_date) == (
        "OBMMIC30YF",
        D("6.125"),
        dt.date(2026, 11, 20),
    )
    assert (opp.stage, opp.qualifies, opp.match_run, opp.first_matched_at) == ("new", True, run, NOW)
    assert (opp.borrower, opp.loan_officer, opp.branch, opp.product_type) == (
        loan.borrower,
        officer,
        officer.branch,
        "conforming",
    )
    assert opp.optimal_threshold == D("1.065")
    entry = Activity.objects.get(opportunity=opp)
    assert (entry.kind, entry.body, entry.borrower, entry.data) == (
        "matched",
        "Saves $280.48 a month at 6.125\xa0% (OBMMIC30YF)",
        loan.borrower,
        {"match_run": run.pk},
    )
    run.refresh_from_db()
    assert (run.status, run.considered, run.matched, run.created, run.updated, run.expired) == (
        "succeeded",
        1,
        1,
        1,
        0,
        0,
    )
    assert run.rates_used == {
        "conforming/360": {"series": "OBMMIC30YF", "date": "2026-11-20", "rate": "6.125", "fallback": False}
    }
    assert run.finished_at == NOW and run.duration_ms is not None


def random_loans(officer, n: int, seed: int = 7) -> list[Loan]:
    rng = random.Random(seed)
    loans = []
    for _ in range(n):
        product, term = rng.choice(list(PRODUCTS))
        term = rng.choice([term, 240]) if term == 360 else term
        note_date = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(0, 3650))
        first = finance.add_months(note_date.replace(day=1), 2)
        day = rng.choice([1, 1, 1, 15, 29, 30, 31])  # month-end due days fall on shorter months' last day
        first = first.replace(day=min(day, calendar.monthrange(first.year, first.month)[1]))
        amount = D(rng.randrange(60_000, 1_200_000)) + D(rng.randrange(0, 100)) / 100
        upb = None
        upb_as_of = None
        if rng.random() < 0.3:
            upb = (amount * D(rng.uniform(0.5, 0.95))).quantize(D("0.01"))
            upb_as_of = rng.choice([None, dt.date(2026, 9, 30), dt.date(2026, 11, 1), dt.date(2026, 10, 31)])
        note_rate = D(rng.randrange(0, 9000)) / 1000
        arm = rng.random() < 0.15
        loans.append(
            LoanFactory(
                loan_officer=officer,
                product_type=product,
                term_months=term,
                amortization="arm" if arm else "fixed",
                original_amount=amount,
                note_rate=note_rate,
                current_rate=rng.choice([None, note_rate + D("1.500"), D(rng.randrange(5000, 9000)) / 1000]),
                note_date=note_date,
                first_payment_date=first,
                maturity_date=None,
                current_upb=upb,
                upb_as_of=upb_as_of,
                property_county_fips=rng.choice(["", "", "06037", "17031"]),  # Los Angeles is high-cost
            )
        )
    return loans


def python_qualifies(loan: Loan, figures: dict, org: Organization) -> bool:
    """DESIGN §5 evaluated in Python for one loan (the oracle for the set-based SQL)."""
    if figures["remaining_months"] <= 60 or figures["threshold"] is None or figures["monthly_savings"] <= 0:
        return False
    if org.matching_rule == Organization.MatchingRule.OPTIMAL:
        return figures["spread"] >= figures["optimal_threshold"]
    return figures["spread"] >= figures["threshold"]


@pytest.mark.parametrize("rule", ["flat", "optimal"])
def test_database_figures_equal_finance_row_by_row(officer, org, rule):
    org.matching_rule = rule
    org.save()
    price_all(org)
    loans = random_loans(officer, 60)
    match_organization(organization=org, as_of=AS_OF)

    opportunities = {o.loan_id: o for o in Opportunity.objects.all()}
    checked = 0
    for loan in loans:
        key = (effective_product(loan), 180 if loan.term_months <= 180 else 360)
        if key not in PRODUCTS:  # a 15-year jumbo: no rate today
            assert loan.pk not in opportunities
            continue
        code, market = PRODUCTS[key]
        if (
            finance.remaining_months(
                first_payment_date=loan.first_payment_date, as_of=AS_OF, term_months=loan.term_months
            )
            <= 0
        ):
            assert loan.pk not in opportunities
            continue
        figures = expected(loan, market=D(market), organization=org)
        assert (loan.pk in opportunities) == python_qualifies(loan, figures, org), loan.loan_number
        if loan.pk in opportunities:
            opp = opportunities[loan.pk]
            assert {k: getattr(opp, k) for k in figures} == figures, (
                loan.current_upb,
                loan.upb_as_of,
                loan.first_payment_date,
                loan.term_months,
                loan.note_rate,
                loan.original_amount,
            )
            assert (opp.market_series, opp.market_rate) == (code, D(market))
            checked += 1
    assert checked >= 10  # the sample exercises the comparison


def test_small_loans_need_a_bigger_spread(officer, org):
    price(org, rate="6.500")  # spread 0.750 for a 7.25 % loan
    big = LoanFactory(loan_officer=officer)
    small = LoanFactory(loan_officer=officer, original_amount=D("140000.00"))  # needs 0.625 + 0.25
    match_organization(organization=org, as_of=AS_OF)
    assert list(Opportunity.objects.values_list("loan", "threshold")) == [(big.pk, D("0.625"))]
    assert not Opportunity.objects.filter(loan=small).exists()


def test_threshold_rules_of_the_organization_apply(officer, org):
    price(org, rate="6.500")
    ThresholdRuleFactory(organization=org, product_type="conforming", min_balance=D("0"), min_spread=D("0.800"))
    LoanFactory(loan_officer=officer)
    assert match_organization(organization=org, as_of=AS_OF).matched == 0


def test_optimal_rule_uses_x_star(officer, org):
    price(org, rate="6.250")  # spread 1.000: above the flat 0.625, below x* ≈ 1.06
    LoanFactory(loan_officer=officer)
    assert match_organization(organization=org, as_of=AS_OF).matched == 1
    org.matching_rule = Organization.MatchingRule.OPTIMAL
    org.save()
    run = match_organization(organization=org, as_of=AS_OF)
    assert (run.rule, run.matched, run.expired) == ("optimal", 0, 1)


@pytest.mark.parametrize(
    "change",
    [
        {"status": Loan.Status.PAID_OFF},
        {"days_past_due": 30},
        {"lien_position": Loan.Lien.SECOND},
        {"note_date": dt.date(2021, 10, 1), "first_payment_date": dt.date(2021, 12, 1), "term_months": 120},
        {
            "purpose": Loan.Purpose.RATE_TERM_REFI,
            "note_date": dt.date(2025, 1, 10),
            "first_payment_date": dt.date(2025, 3, 1),
        },
        {
            "purpose": Loan.Purpose.CASH_OUT_REFI,
            "note_date": dt.date(2024, 11, 23),
            "first_payment_date": dt.date(2025, 1, 1),
        },
        {"note_rate": D("6.500")},  # spread 0.375
    ],
    ids=["paid-off", "past-due", "second-lien", "60-months-left", "refi-13-months-ago", "refi-24-months-ago", "spread"],
)
def test_excluded_loans(officer, org, change):
    price(org)
    LoanFactory(loan_officer=officer, **change)
    run = match_organization(organization=org, as_of=AS_OF)
    assert run.matched == 0
    assert not Opportunity.objects.exists()


def test_refinance_older_than_24_months_and_arms_are_matched(officer, org):
    price(org)
    old_refi = LoanFactory(  # closed exactly 24 months before the match date
        loan_officer=officer,
        purpose=Loan.Purpose.RATE_TERM_REFI,
        note_date=dt.date(2024, 11, 22),
        first_payment_date=dt.date(2025, 1, 1),
    )
    arm = LoanFactory(loan_officer=officer, amortization="arm")
    match_organization(organization=org, as_of=AS_OF)
    assert dict(Opportunity.objects.values_list("loan", "is_arm")) == {old_refi.pk: False, arm.pk: True}


def test_a_loan_created_by_a_recent_refinance_is_not_matched(officer, org):
    price(org)
    old = LoanFactory(loan_officer=officer, status=Loan.Status.REFINANCED)
    LoanFactory(
        loan_officer=officer,
        refinanced_from=old,
        note_date=dt.date(2025, 6, 1),
        first_payment_date=dt.date(2025, 8, 1),
        note_rate=D("7.5"),
    )
    assert match_organization(organization=org, as_of=AS_OF).matched == 0


def test_va_and_fha_flags(officer, org):
    price(org, product="va", code="OBMMIVA30YF", rate="6.875")  # drop 0.375
    price(org, product="fha", code="OBMMIFHA30YF", rate="6.250")  # drop 1.000
    va = LoanFactory(loan_officer=officer, product_type="va")
    fha = LoanFactory(loan_officer=officer, product_type="fha")
    match_organization(organization=org, as_of=AS_OF)
    assert Opportunity.objects.filter(loan=va).exists() is False  # below the VA threshold of 0.50
    opp = Opportunity.objects.get(loan=fha)
    assert (opp.fha_streamline_ok, opp.va_irrrl_ok, opp.seasoning_ok) == (True, None, True)


def test_unseasoned_loan_is_matched_and_flagged(officer, org):
    price(org, rate="5.500")
    loan = LoanFactory(
        loan_officer=officer,
        note_rate=D("7.000"),
        note_date=dt.date(2026, 4, 10),
        first_payment_date=dt.date(2026, 6, 1),
    )
    match_organization(organization=org, as_of=AS_OF)
    assert Opportunity.objects.get(loan=loan).seasoning_ok is False


def test_products_without_a_rate_are_skipped_and_reported(officer, org):
    price(org)
    LoanFactory(loan_officer=officer)
    big = {"original_amount": D("1000000.00"), "property_value": D("1400000.00")}  # jumbo on today's balance
    LoanFactory(loan_officer=officer, product_type="jumbo", **big)
    LoanFactory(loan_officer=officer, product_type="jumbo", term_months=180, **big)
    run = match_organization(organization=org, as_of=AS_OF)
    assert (run.considered, run.matched) == (3, 1)
    assert run.rates_used["jumbo/360"] == {"series": None, "date": None, "rate": None, "loans_skipped": 1}
    assert run.rates_used["jumbo/180"]["loans_skipped"] == 1


def test_nothing_priced_matches_nothing_and_touches_nothing(officer, org):
    opp = OpportunityFactory(loan__loan_officer=officer)
    before = snapshot()
    run = match_organization(organization=org, as_of=AS_OF)
    assert (run.status, run.considered, run.matched) == ("succeeded", 1, 0)
    assert run.rates_used == {"conforming/360": {"series": None, "date": None, "rate": None, "loans_skipped": 1}}
    assert snapshot() == before
    assert opp.qualifies


def test_other_organizations_are_not_touched(officer, org):
    price(org)
    other_officer = LoanOfficerFactory()
    series = RateSeriesFactory(code="OBMMIC30YF")
    SeriesMappingFactory(organization=other_officer.organization, series=series)
    LoanFactory(loan_officer=other_officer)
    foreign = OpportunityFactory(loan__loan_officer=other_officer)
    LoanFactory(loan_officer=officer)
    match_organization(organization=org, as_of=AS_OF)
    assert set(Opportunity.objects.values_list("organization", flat=True)) == {org.pk, other_officer.organization_id}
    assert Opportunity.objects.filter(organization=other_officer.organization).count() == 1
    foreign.refresh_from_db()
    assert foreign.qualifies and foreign.match_run is None


def test_a_recently_lost_opportunity_is_not_recreated(officer, org, frozen):
    price(org)
    loan = LoanFactory(loan_officer=officer)
    OpportunityFactory(loan=loan, stage="lost", stage_changed_at=NOW - dt.timedelta(days=10))
    assert match_organization(organization=org, as_of=AS_OF).created == 0
    frozen.shift(dt.timedelta(days=91))
    assert match_organization(organization=org, as_of=AS_OF).created == 1
    assert Opportunity.objects.filter(loan=loan).count() == 2


def test_reassigned_loan_moves_its_opportunity(officer, org):
    price(org)
    loan = LoanFactory(loan_officer=officer)
    match_organization(organization=org, as_of=AS_OF)
    colleague = LoanOfficerFactory(organization=org, branch=officer.branch)
    Loan.objects.filter(pk=loan.pk).update(loan_officer=colleague)
    run = match_organization(organization=org, as_of=AS_OF)
    assert run.updated == 1
    assert Opportunity.objects.get(loan=loan).loan_officer == colleague


# --- idempotency, disqualify and requalify ------------------------------------------------------------


def test_rerun_changes_no_row(officer, org, frozen):
    price_all(org)
    random_loans(officer, 40, seed=3)
    first = match_organization(organization=org, as_of=AS_OF)
    assert first.created > 5
    before = snapshot()
    frozen.shift(dt.timedelta(hours=1))
    second = match_organization(organization=org, as_of=AS_OF)
    assert (second.matched, second.created, second.updated, second.expired) == (first.matched, 0, 0, 0)
    assert snapshot() == before  # every column, updated_at included


def test_rates_rise_marks_no_longer_qualifies_but_keeps_stage_and_sequence(officer, org, frozen):
    series_obs = price(org)
    loan = LoanFactory(loan_officer=officer)
    match_organization(organization=org, as_of=AS_OF)
    opp = Opportunity.objects.get(loan=loan)
    opp.stage = "contacted"
    opp.save()
    enrollment = EnrollmentFactory(opportunity=opp)

    frozen.shift(dt.timedelta(days=1))
    RateObservationFactory(series=series_obs.series, date=dt.date(2026, 11, 21), rate=D("7.000"))
    risen = match_organization(organization=org, as_of=AS_OF + dt.timedelta(days=1))
    assert (risen.matched, risen.created, risen.updated, risen.expired) == (0, 0, 0, 1)
    opp.refresh_from_db()
    assert (opp.qualifies, opp.stage, opp.disqualified_at, opp.match_run) == (
        False,
        "contacted",
        NOW + dt.timedelta(days=1),
        risen,
    )
    assert opp.monthly_savings == D("280.48")  # the numbers of the last qualifying match are kept
    assert Enrollment.objects.filter(pk=enrollment.pk, status=enrollment.status).exists()
    assert Activity.objects.filter(opportunity=opp, kind="disqualified").count() == 1

    again = match_organization(organization=org, as_of=AS_OF + dt.timedelta(days=1))
    assert (again.expired, Activity.objects.filter(kind="disqualified").count()) == (0, 1)

    frozen.shift(dt.timedelta(days=1))
    RateObservationFactory(series=series_obs.series, date=dt.date(2026, 11, 22), rate=D("6.000"))
    back = match_organization(organization=org, as_of=AS_OF + dt.timedelta(days=2))
    assert (back.matched, back.created, back.updated, back.expired) == (1, 0, 1, 0)
    opp.refresh_from_db()
    assert (opp.qualifies, opp.disqualified_at, opp.stage, opp.market_rate) == (True, None, "contacted", D("6.000"))
    assert Opportunity.objects.filter(loan=loan).count() == 1
    requalified = Activity.objects.get(opportunity=opp, kind="requalified")
    assert requalified.body == "Qualifies again at 6.000\xa0% (OBMMIC30YF)"


def test_new_rate_updates_the_figures_without_a_timeline_entry(officer, org, frozen):
    obs = price(org)
    loan = LoanFactory(loan_officer=officer)
    match_organization(organization=org, as_of=AS_OF)
    frozen.shift(dt.timedelta(days=1))
    RateObservationFactory(series=obs.series, date=dt.date(2026, 11, 21), rate=D("6.000"))
    run = match_organization(organization=org, as_of=AS_OF)
    assert (run.created, run.updated, run.expired) == (0, 1, 0)
    opp = Opportunity.objects.get(loan=loan)
    assert (opp.market_rate, opp.updated_at, opp.first_matched_at, opp.last_matched_at) == (
        D("6.000"),
        NOW + dt.timedelta(days=1),
        NOW,
        NOW + dt.timedelta(days=1),
    )
    assert opp.monthly_savings == expected(loan, market=D("6.000"), organization=org)["monthly_savings"]
    assert Activity.objects.count() == 1  # the original "matched" only
    # what identified it stays as first matched (reports group conversion by it)
    assert (opp.spread, opp.matched_spread, opp.matched_threshold, opp.matched_rule) == (
        D("1.250"),
        D("1.125"),
        D("0.625"),
        "flat",
    )


def test_a_paid_off_loan_no_longer_qualifies(officer, org):
    price(org)
    loan = LoanFactory(loan_officer=officer)
    match_organization(organization=org, as_of=AS_OF)
    Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.PAID_OFF)
    assert match_organization(organization=org, as_of=AS_OF).expired == 1


# --- concurrency ------------------------------------------------------------------------------------


def test_a_second_run_while_one_is_running_is_refused(officer, org):
    price(org)
    LoanFactory(loan_officer=officer)
    running = MatchRunFactory(organization=org, status=MatchRun.Status.RUNNING)
    with pytest.raises(MatchAlreadyRunning, match="already running"):
        match_organization(organization=org, as_of=AS_OF)
    assert not Opportunity.objects.exists()
    assert list(MatchRun.objects.values_list("pk", "status")) == [(running.pk, "running")]
    # Another organization is not blocked.
    other = LoanOfficerFactory()
    assert match_organization(organization=other.organization, as_of=AS_OF).status == "succeeded"


def test_an_abandoned_claim_is_released(officer, org, frozen):
    price(org)
    LoanFactory(loan_officer=officer)
    stuck = MatchRunFactory(organization=org, status=MatchRun.Status.RUNNING)
    frozen.shift(dt.timedelta(hours=2))
    run = match_organization(organization=org, as_of=AS_OF)
    stuck.refresh_from_db()
    assert (stuck.status, run.status, run.created) == ("failed", "succeeded", 1)
    assert "Abandoned" in stuck.error


# --- thresholds -----------------------------------------------------------------------------------


def test_flat_threshold_table_gives_what_threshold_for_gives():
    bands = [
        Band("conforming", D("0"), D("150000"), D("0.875")),
        Band("conforming", D("100000"), D("400000"), D("0.700")),  # overlaps both neighbours
        Band("conforming", D("300000"), None, D("0.625")),
        Band("jumbo", D("500000"), D("900000"), D("0.875")),  # leaves gaps below and above
    ]
    table = flat_threshold_table(bands)
    for balance in [
        D(x) for x in (0, 99999.99, 100000, 149999.99, 150000, 299999.99, 300000, 399999.99, 400000, 10**7)
    ]:
        for product in ("conforming", "jumbo"):
            rows = [
                b.min_spread
                for b in table
                if b.product_type == product
                and b.min_balance <= balance
                and (b.max_balance is None or balance < b.max_balance)
            ]
            expected_spread = threshold_for(bands=bands, product_type=product, balance=balance)
            assert rows == ([expected_spread] if expected_spread is not None else [])


def test_default_bands_collapse_to_two_rows_per_product():
    table = flat_threshold_table(default_bands())
    assert len(table) == 10
    assert [(b.min_balance, b.max_balance, b.min_spread) for b in table if b.product_type == "conforming"] == [
        (D("0.00"), D("150000.00"), D("0.875")),
        (D("150000.00"), None, D("0.625")),
    ]


def test_threshold_rules_ensure_defaults(org):
    ThresholdRuleFactory(organization=org, product_type="jumbo", min_balance=D("0"), min_spread=D("1.000"))
    created = threshold_rules_ensure_defaults(organization=org)
    assert len(created) == 8  # two bands for each of the four products without rules
    assert threshold_rules_ensure_defaults(organization=org) == []
    assert list(
        ThresholdRule.objects.filter(organization=org, product_type="jumbo").values_list("min_spread", flat=True)
    ) == [D("1.000")]
    assert ThresholdRule.objects.get(organization=org, product_type="va", min_balance=D("0")).min_spread == D("0.750")


def test_closing_costs_follow_the_products_rule(officer, org):
    """DESIGN §4: closing costs are the product's rule (the org default only where no product prices the loan),
    so the board's break-even agrees with the refinance quote."""
    price(org)
    LoanProductFactory(
        organization=org, code="CONF30", closing_cost_fixed=D("2000.00"), closing_cost_percent=D("0.500")
    )
    LoanProductFactory(organization=org, code="CONF30ARM", rate_type="arm", closing_cost_fixed=D("0.00"))
    loan = LoanFactory(loan_officer=officer)
    match_organization(organization=org, as_of=AS_OF)
    opp = Opportunity.objects.get(loan=loan)
    costs = finance.closing_costs(amount=D("387493.18"), fixed=D("2000.00"), percent=D("0.500"))
    assert (opp.closing_costs, costs) == (D("3937.47"), D("3937.47"))
    assert opp.break_even_months == finance.break_even_months(costs=costs, monthly_savings=opp.monthly_savings)
    assert opp.net_benefit == opp.total_interest_savings - costs
    x_star = finance.optimal_refinance_differential(
        balance=D("387493.18"),
        refinance_cost=costs,
        note_rate=loan.note_rate,
        remaining_years=opp.remaining_months / 12,
    )
    assert opp.optimal_threshold == D(str(round(x_star * 100, 3)))
