from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from loans.models import Loan
from pipeline.selectors.market import loans_above_trigger
from rates.models import RateSeries
from rates.selectors import (
    is_stale,
    market_rates,
    product_rate_status,
    series_for_organization,
    series_summaries,
    stale_products,
)
from rates.services import rates_load_shipped_history, series_mappings_ensure_defaults
from tests.factories import (
    LoanFactory,
    LoanOfficerFactory,
    OrganizationFactory,
    RateObservationFactory,
    RateSeriesFactory,
    ThresholdRuleFactory,
)

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def org_with_rates():
    org = OrganizationFactory()
    series_mappings_ensure_defaults(organization=org)
    obs = {
        "OBMMIC30YF": (dt.date(2025, 9, 25), D("6.345")),
        "MORTGAGE15US": (dt.date(2024, 9, 5), D("5.470")),
        "OBMMIFHA30YF": (dt.date(2025, 9, 25), D("6.133")),
        "MORTGAGE30US": (dt.date(2025, 9, 25), D("6.300")),
    }
    for code, (date, rate) in obs.items():
        RateObservationFactory(series=RateSeries.objects.get(code=code), date=date, rate=rate)
    return org


def test_market_rates_uses_fallback_only_without_observation(org_with_rates, django_assert_num_queries):
    with django_assert_num_queries(2):
        rates = market_rates(organization=org_with_rates, as_of=dt.date(2025, 9, 26))
    assert (rates[("conforming", 360)].series_code, rates[("conforming", 360)].is_fallback) == ("OBMMIC30YF", False)
    # no OBMMIJUMBO30YF history: priced by its fallback MORTGAGE30US
    assert (rates[("jumbo", 360)].series_code, rates[("jumbo", 360)].rate, rates[("jumbo", 360)].is_fallback) == (
        "MORTGAGE30US",
        D("6.300"),
        True,
    )
    # as_of before any observation: nothing
    assert market_rates(organization=org_with_rates, as_of=dt.date(2020, 1, 1)) == {}


def test_product_rate_status_buckets_terms_and_flags_staleness(org_with_rates):
    rate, stale = product_rate_status(
        organization=org_with_rates, product_type="conforming", term_months=300, as_of=dt.date(2025, 10, 2)
    )
    assert (rate.series_code, rate.rate, stale) == ("OBMMIC30YF", D("6.345"), False)  # 7 days: not yet stale
    assert product_rate_status(
        organization=org_with_rates, product_type="conforming", term_months=360, as_of=dt.date(2025, 10, 3)
    )[1]
    rate, stale = product_rate_status(
        organization=org_with_rates, product_type="fha", term_months=180, as_of=dt.date(2025, 9, 26)
    )
    assert (rate.series_code, stale) == ("MORTGAGE15US", True)


def test_staleness_limit_is_the_org_setting(org_with_rates):
    org_with_rates.staleness_days = 400
    rates = market_rates(organization=org_with_rates, as_of=dt.date(2025, 10, 20))
    assert not is_stale(rates[("conforming", 360)], organization=org_with_rates, as_of=dt.date(2025, 10, 20))
    assert is_stale(None, organization=org_with_rates, as_of=dt.date(2025, 10, 20))
    stale = stale_products(organization=org_with_rates, as_of=dt.date(2025, 10, 20))
    assert [(p, t) for p, t, _ in stale] == [
        ("conforming", 180),
        ("fha", 180),
        ("jumbo", 180),
        ("usda", 180),
        ("va", 180),
    ]


def test_loans_above_trigger_counts_by_band_in_one_query(org_with_rates, django_assert_num_queries):
    org = org_with_rates
    officer = LoanOfficerFactory(branch__organization=org)

    def loan(**kwargs):
        return LoanFactory(loan_officer=officer, **kwargs)

    loan(note_rate=D("7.250"))  # above 6.345 + 0.625 = 6.970
    loan(note_rate=D("6.970"))  # exactly at the trigger counts
    loan(note_rate=D("6.969"))
    loan(note_rate=D("7.000"), original_amount=D("100000.00"))  # small loan: needs 6.345 + 0.875 = 7.220
    loan(note_rate=D("7.250"), original_amount=D("100000.00"))
    loan(note_rate=D("7.000"), current_upb=D("140000.00"), upb_as_of=dt.date(2025, 9, 1))  # small by its UPB
    loan(note_rate=D("7.500"), status=Loan.Status.PAID_OFF)
    loan(note_rate=D("6.500"), term_months=180, maturity_date=dt.date(2038, 11, 1))  # 15-year: 5.470 + 0.625
    loan(note_rate=D("6.700"), product_type="fha", original_amount=D("300000.00"))  # ≥ 6.133 + 0.5, < + 0.6
    loan(note_rate=D("6.733"), product_type="fha", original_amount=D("300000.00"))
    LoanFactory(note_rate=D("8.000"))  # another organization
    ThresholdRuleFactory(organization=org, product_type="fha", min_balance=D("0.00"), min_spread=D("0.600"))
    rates = market_rates(organization=org, as_of=dt.date(2025, 9, 26))

    with django_assert_num_queries(2):  # the org's threshold bands, then one aggregate
        overlays = loans_above_trigger(loans=Loan.objects.filter(organization=org), organization=org, rates=rates)

    counts = {(o.product_type, o.term_months): (o.loans_above, o.active_loans, o.trigger) for o in overlays}
    assert counts[("conforming", 360)] == (3, 6, D("6.970"))
    assert counts[("conforming", 180)] == (1, 1, D("6.095"))
    assert counts[("fha", 360)] == (1, 2, D("6.733"))  # the org's own FHA rule: 0.600
    assert counts[("jumbo", 360)] == (0, 0, D("7.175"))


def test_series_summaries_on_real_history():
    rates_load_shipped_history()
    org = OrganizationFactory()
    series_mappings_ensure_defaults(organization=org)
    series = series_for_organization(organization=org)
    assert [s.code for s in series][:3] == ["OBMMIC15YF", "OBMMIC30YF", "MORTGAGE15US"]
    summaries = {
        s.series.code: s for s in series_summaries(organization=org, series=series, as_of=dt.date(2026, 11, 22))
    }

    conf = summaries["OBMMIC30YF"]
    assert (conf.date, conf.rate, conf.change_1w, conf.change_4w) == (
        dt.date(2025, 9, 25),
        D("6.345"),
        D("0.089"),  # 6.345 - 6.256 (2025-09-18)
        D("-0.169"),  # 6.345 - 6.514 (2025-08-28)
    )
    assert conf.prices == ["Conforming 30-year"]
    assert conf.fred_url == "https://fred.stlouisfed.org/series/OBMMIC30YF"
    assert summaries["MORTGAGE30US"].prices == [
        "Conforming 30-year (fallback)",
        "FHA 30-year (fallback)",
        "Jumbo 30-year (fallback)",
        "USDA 30-year (fallback)",
        "VA 30-year (fallback)",
    ]
    assert summaries["OBMMIUSDA30YF"].rate is None


def test_series_for_organization_never_lists_another_orgs_series():
    org, other = OrganizationFactory(), OrganizationFactory()
    mine = RateSeriesFactory(organization=org, code="DESK-A", source=RateSeries.Source.RATE_SHEET)
    RateSeriesFactory(organization=other, code="DESK-B", source=RateSeries.Source.RATE_SHEET)
    series_mappings_ensure_defaults(organization=org)
    codes = [s.code for s in series_for_organization(organization=org)]
    assert "DESK-A" in codes and mine.code == "DESK-A"
    assert "DESK-B" not in codes
