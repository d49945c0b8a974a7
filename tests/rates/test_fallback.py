"""Issue 17 item 10: the fallback series prices a product only when the main series has no observation at all (on
or before the date); a stale main rate stays the rate, and blocks new outreach as stale."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pipeline.selectors.board import rates_status
from rates.selectors import is_stale, market_rates
from tests.factories import OrganizationFactory, RateObservationFactory, RateSeriesFactory, SeriesMappingFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 23)


def test_a_stale_main_series_is_not_replaced_by_a_fresh_fallback():
    org = OrganizationFactory()
    main = RateSeriesFactory(code="OBMMIC30YF")
    fallback = RateSeriesFactory(code="MORTGAGE30US", product_type="")
    SeriesMappingFactory(organization=org, series=main, fallback_series=fallback)
    RateObservationFactory(series=main, date=dt.date(2026, 10, 1), rate=Decimal("6.500"))  # 53 days old
    RateObservationFactory(series=fallback, date=dt.date(2026, 11, 20), rate=Decimal("6.100"))
    rate = market_rates(organization=org, as_of=TODAY)[("conforming", 360)]
    assert (rate.series_code, rate.rate, rate.is_fallback) == ("OBMMIC30YF", Decimal("6.500"), False)
    assert is_stale(rate, organization=org, as_of=TODAY)
    assert rates_status(organization=org, as_of=TODAY).stale_count == 1


def test_the_fallback_prices_only_a_main_series_without_any_observation():
    org = OrganizationFactory()
    main = RateSeriesFactory(code="OBMMIC30YF")
    fallback = RateSeriesFactory(code="MORTGAGE30US", product_type="")
    SeriesMappingFactory(organization=org, series=main, fallback_series=fallback)
    RateObservationFactory(series=fallback, date=dt.date(2026, 11, 20), rate=Decimal("6.100"))
    rate = market_rates(organization=org, as_of=TODAY)[("conforming", 360)]
    assert (rate.series_code, rate.is_fallback) == ("MORTGAGE30US", True)
    assert rates_status(organization=org, as_of=TODAY).stale_count == 0
