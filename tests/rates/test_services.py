from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.choices import ProductType
from rates import defaults
from rates.models import RateObservation, RateRevision, RateSeries, SeriesMapping
from rates.selectors import market_rates
from rates.services import (
    RateSheetInvalid,
    demo_rate_sheet_ensure,
    observation_record,
    rate_series_ensure_defaults,
    rate_sheet_import,
    rate_sheet_preview,
    rates_load_shipped_history,
    series_mappings_ensure_defaults,
)
from tests.factories import OrganizationFactory, RateObservationFactory, RateSeriesFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_ensure_defaults_is_idempotent_and_keeps_operator_edits():
    rate_series_ensure_defaults()
    RateSeries.objects.filter(code="MORTGAGE15US").update(fetch_enabled=False)
    rate_series_ensure_defaults()
    assert RateSeries.objects.count() == len(defaults.SERIES) == 8
    assert set(RateSeries.objects.filter(fetch_enabled=True).values_list("code", flat=True)) == set(defaults.SERIES) - {
        "MORTGAGE15US"
    }
    assert not RateSeries.objects.exclude(source=RateSeries.Source.FRED).exists()
    assert not RateSeries.objects.filter(organization__isnull=False).exists()


def test_mapping_defaults_never_overwrite_a_managers_edit():
    org = OrganizationFactory()
    assert series_mappings_ensure_defaults(organization=org) == 10
    mapping = SeriesMapping.objects.get(organization=org, product_type=ProductType.FHA, term_months=360)
    assert (mapping.series.code, mapping.fallback_series.code) == ("OBMMIFHA30YF", "MORTGAGE30US")
    mapping.series = RateSeries.objects.get(code="MORTGAGE30US")
    mapping.save()

    assert series_mappings_ensure_defaults(organization=org) == 0
    mapping.refresh_from_db()
    assert mapping.series.code == "MORTGAGE30US"
    assert SeriesMapping.objects.filter(organization=org).count() == 10


def test_observation_record_upserts_and_logs_revisions():
    user = UserFactory()
    series = RateSeriesFactory(code="DESK", organization=OrganizationFactory(), source=RateSeries.Source.MANUAL)
    obs, outcome = observation_record(series=series, date=dt.date(2026, 11, 20), rate=Decimal("6.125"), user=user)
    assert outcome == "created"
    assert observation_record(series=series, date=dt.date(2026, 11, 20), rate=Decimal("6.125"))[1] == "unchanged"
    assert not RateRevision.objects.exists()

    again, outcome = observation_record(series=series, date=dt.date(2026, 11, 20), rate=Decimal("6.250"), user=user)

    assert (outcome, again.pk, again.rate) == ("revised", obs.pk, Decimal("6.250"))
    revision = RateRevision.objects.get()
    assert (revision.old_rate, revision.new_rate, revision.source) == (
        Decimal("6.125"),
        Decimal("6.250"),
        f"manual by {user.username}",
    )


def test_observation_record_rejects_bad_values():
    series = RateSeriesFactory()
    with pytest.raises(ValidationError):
        observation_record(series=series, date=dt.date(2026, 11, 20), rate=Decimal("31.000"))
    assert not RateObservation.objects.exists()


def test_one_observation_per_series_per_date_in_the_database():
    obs = RateObservationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RateObservation.objects.create(series=obs.series, date=obs.date, rate=Decimal("6.000"))


SHEET = "product,date,rate\nConforming 30,2026-11-20,6.125\nFHA 30,2026-11-20,5.875\nConforming 30,2026-11-19,6.100\n"


def test_rate_sheet_import_creates_own_series_and_prices_products():
    org = OrganizationFactory()
    series_mappings_ensure_defaults(organization=org)
    user = UserFactory()

    result = rate_sheet_import(organization=org, file=SHEET, user=user)

    assert (result.created, result.revised, result.unchanged) == (3, 0, 0)
    conf = RateSeries.objects.get(organization=org, code="RATESHEET-CONFORMING-30Y")
    assert (conf.source, conf.product_type, conf.term_months) == ("rate_sheet", "conforming", 360)
    assert dict(conf.observations.values_list("date", "rate")) == {
        dt.date(2026, 11, 20): Decimal("6.125"),
        dt.date(2026, 11, 19): Decimal("6.100"),
    }
    assert set(conf.observations.values_list("entered_by", flat=True)) == {user.pk}
    mapping = SeriesMapping.objects.get(organization=org, product_type="conforming", term_months=360)
    assert (mapping.series, mapping.fallback_series.code) == (conf, "OBMMIC30YF")
    rates = market_rates(organization=org, as_of=dt.date(2026, 11, 22))
    assert rates[("conforming", 360)].rate == Decimal("6.125")
    assert rates[("fha", 360)].series_code == "RATESHEET-FHA-30Y"

    again = rate_sheet_import(
        organization=org, file="series,date,rate\nratesheet-conforming-30y,2026-11-20,6.150\n", user=user
    )
    assert (again.created, again.revised) == (0, 1)
    assert RateRevision.objects.get().source == f"rate sheet by {user.username}"


def test_rate_sheet_with_bad_rows_imports_nothing():
    org = OrganizationFactory()
    rate_series_ensure_defaults()
    sheet = (
        "product,date,rate\n"
        "Conforming 30,2026-11-20,6.125\n"
        "OBMMIC30YF,2026-11-20,6.000\n"
        "Balloon 7,2026-11-20,7.000\n"
        "FHA 30,2026-11-20,26\n"
    )
    preview = rate_sheet_preview(organization=org, file=sheet)
    assert [str(e) for e in preview.errors] == [
        "line 3: OBMMIC30YF is a public FRED series; a rate sheet prices your own products",
        "line 4: unknown product or series 'Balloon 7' (use e.g. 'Conforming 30', 'FHA 30', 'Jumbo 15' or the code "
        "of one of your rate series)",
        "line 5: rate '26' is outside 0–25 %",
    ]
    with pytest.raises(RateSheetInvalid):
        rate_sheet_import(organization=org, file=sheet, user=None)
    assert not RateSeries.objects.filter(organization=org).exists()
    assert not RateObservation.objects.exists()


def test_rate_sheet_cannot_reach_another_orgs_series():
    other = OrganizationFactory()
    RateSeriesFactory(organization=other, code="DESK", source=RateSeries.Source.RATE_SHEET)
    preview = rate_sheet_preview(organization=OrganizationFactory(), file="series,date,rate\nDESK,2026-11-20,6.1\n")
    assert [e.line for e in preview.errors] == [2]
    assert "unknown product or series 'DESK'" in preview.errors[0].message


def test_demo_rate_sheet_copies_latest_real_values_with_provenance():
    rates_load_shipped_history()
    org = OrganizationFactory()
    as_of = dt.date(2026, 11, 22)

    created = demo_rate_sheet_ensure(organization=org, as_of=as_of)

    assert len(created) == 10
    conf = RateSeries.objects.get(organization=org, code="DEMO-CONFORMING-30Y")
    assert conf.source == RateSeries.Source.RATE_SHEET
    assert conf.title == (
        "Demo desk rate sheet: Conforming 30-year — value copied from FRED OBMMIC30YF of Sep 25, 2025 (6.345\xa0%), "
        "dated Nov 22, 2026 for the demo"
    )
    assert list(conf.observations.values_list("date", "rate")) == [(as_of, Decimal("6.345"))]
    # OBMMIC15YF has no shipped history: its fallback's newest real value is copied, and named.
    conf15 = RateSeries.objects.get(organization=org, code="DEMO-CONFORMING-15Y")
    assert "FRED MORTGAGE15US of Sep 5, 2024 (5.470\xa0%)" in conf15.title
    mapping = SeriesMapping.objects.get(organization=org, product_type="conforming", term_months=360)
    assert (mapping.series, mapping.fallback_series.code) == (conf, "OBMMIC30YF")
    rates = market_rates(organization=org, as_of=as_of)
    assert {key: (r.series_code, r.rate, r.date) for key, r in rates.items() if key[0] == "va"} == {
        ("va", 360): ("DEMO-VA-30Y", Decimal("5.897"), as_of),
        ("va", 180): ("DEMO-VA-15Y", Decimal("5.470"), as_of),
    }

    # rerun next day: same series, one more observation, the FRED series stays the fallback
    demo_rate_sheet_ensure(organization=org, as_of=as_of + dt.timedelta(days=1))
    assert RateSeries.objects.filter(organization=org).count() == 10
    assert conf.observations.count() == 2
    mapping.refresh_from_db()
    assert mapping.fallback_series.code == "OBMMIC30YF"
    assert not RateObservation.objects.filter(series__organization__isnull=True, date__gte=as_of).exists()
