"""The stale-rates banner on every page that uses rates, following the clock (time_machine)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from tests.factories import RateObservationFactory, RateSeriesFactory, SeriesMappingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_product(officer):
    """The officer's organization prices one product, by a series last observed on Thursday 2025-09-25."""
    series = RateSeriesFactory(code="OBMMIC30YF")
    SeriesMappingFactory(organization=officer.organization, series=series)
    RateObservationFactory(series=series, date=dt.date(2025, 9, 25), rate=Decimal("6.345"))
    return series


@pytest.mark.parametrize("page", ["loans:loan_list", "pipeline:rates"])
def test_banner_hidden_while_rates_are_fresh(officer_client, one_product, page):
    with time_machine.travel(dt.datetime(2025, 10, 2, 16, 0, tzinfo=dt.UTC), tick=False):  # 7 days: the limit
        body = officer_client.get(reverse(page)).content.decode()
    assert 'id="rate-staleness"' not in body


@pytest.mark.parametrize("page", ["loans:loan_list", "pipeline:rates"])
def test_banner_shown_once_rates_are_older_than_the_limit(officer_client, one_product, page):
    with time_machine.travel(dt.datetime(2025, 10, 3, 16, 0, tzinfo=dt.UTC), tick=False):
        body = officer_client.get(reverse(page)).content.decode()
    assert 'id="rate-staleness"' in body
    assert "1 product has no rate newer than 7 days (newest: Sep 25, 2025)" in body
    assert "Conforming 30-year: OBMMIC30YF 6.345\xa0% of Sep 25, 2025, 8 days old" in body


def test_banner_counts_days_in_the_orgs_timezone(officer, officer_client, one_product):
    officer.organization.timezone = "America/Chicago"
    officer.organization.save()
    # 2025-10-03 03:00 UTC is still 2025-10-02 in Chicago: 7 days, not stale yet
    with time_machine.travel(dt.datetime(2025, 10, 3, 3, 0, tzinfo=dt.UTC), tick=False):
        assert 'id="rate-staleness"' not in officer_client.get(reverse("loans:loan_list")).content.decode()


def test_org_staleness_setting_and_missing_rates(officer, officer_client, one_product):
    officer.organization.staleness_days = 30
    officer.organization.save()
    with time_machine.travel(dt.datetime(2025, 10, 20, 16, 0, tzinfo=dt.UTC), tick=False):
        assert 'id="rate-staleness"' not in officer_client.get(reverse("loans:loan_list")).content.decode()
        SeriesMappingFactory(organization=officer.organization, product_type="fha", series=RateSeriesFactory(code="X"))
        body = officer_client.get(reverse("loans:loan_list")).content.decode()
    assert "FHA 30-year: no rate at all" in body


def test_banner_costs_two_queries(officer_client, one_product, django_assert_num_queries):
    officer_client.get(reverse("loans:loan_list"))  # warm the session
    with time_machine.travel(dt.datetime(2025, 10, 3, 16, 0, tzinfo=dt.UTC), tick=False):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            officer_client.get(reverse("loans:loan_list"))
    rate_queries = [q["sql"] for q in queries.captured_queries if "rates_" in q["sql"]]
    assert len(rate_queries) == 2


def test_no_banner_for_anonymous(client):
    assert 'id="rate-staleness"' not in client.get(reverse("login")).content.decode()
