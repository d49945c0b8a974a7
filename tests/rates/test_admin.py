"""Admin scoping: public series read-only for managers, their own rate sheets and mappings editable."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from rates.models import RateObservation, RateRevision, RateSeries, SeriesMapping
from rates.services import series_mappings_ensure_defaults
from tests.conftest import client_for
from tests.factories import OrganizationFactory, RateObservationFactory, RateSeriesFactory

pytestmark = pytest.mark.django_db
NO_INLINES = {"revisions-TOTAL_FORMS": "0", "revisions-INITIAL_FORMS": "0"}


@pytest.fixture
def admin_client(manager):
    manager.user.user_permissions.add(*Permission.objects.filter(content_type__app_label="rates"))
    return client_for(manager)


@pytest.fixture
def setup(manager):
    series_mappings_ensure_defaults(organization=manager.organization)
    other_org = OrganizationFactory()
    series_mappings_ensure_defaults(organization=other_org)
    mine = RateSeriesFactory(organization=manager.organization, code="DESK", title="Our desk", source="rate_sheet")
    theirs = RateSeriesFactory(organization=other_org, code="RIVAL-DESK", title="Rival desk", source="rate_sheet")
    return {
        "mine": mine,
        "theirs": theirs,
        "public": RateSeries.objects.get(code="OBMMIC30YF"),
        "mine_obs": RateObservationFactory(series=mine, date=dt.date(2026, 11, 20), rate=Decimal("6.125")),
        "their_obs": RateObservationFactory(series=theirs, date=dt.date(2026, 11, 20), rate=Decimal("6.999")),
        "public_obs": RateObservationFactory(
            series=RateSeries.objects.get(code="OBMMIC30YF"), date=dt.date(2025, 9, 25)
        ),
        "other_org": other_org,
    }


def test_series_changelist_shows_public_and_own_only(admin_client, setup):
    body = admin_client.get(reverse("admin:rates_rateseries_changelist")).content.decode()
    assert "OBMMIC30YF" in body and "DESK" in body and "Public (FRED)" in body
    assert "RIVAL-DESK" not in body


def test_public_series_is_read_only_for_managers(admin_client, setup):
    url = reverse("admin:rates_rateseries_change", args=[setup["public"].pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(url, {"code": "HACKED", "title": "x", "source": "fred"}).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:rates_rateseries_delete", args=[setup["public"].pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert RateSeries.objects.filter(code="OBMMIC30YF", organization__isnull=True).exists()


def test_other_orgs_series_is_invisible(admin_client, setup):
    response = admin_client.get(reverse("admin:rates_rateseries_change", args=[setup["theirs"].pk]))
    assert response.status_code == 302  # admin's "does not exist" redirect, same as a missing row


def test_manager_adds_own_rate_sheet_series(admin_client, manager, setup):
    form = admin_client.get(reverse("admin:rates_rateseries_add")).content.decode()
    assert 'value="fred"' not in form  # managers cannot create public FRED series
    response = admin_client.post(
        reverse("admin:rates_rateseries_add"),
        {
            "code": "DESK-2",
            "title": "Second desk",
            "source": "manual",
            "product_type": "va",
            "term_months": "360",
            "frequency": "daily",
        },
    )
    assert response.status_code == 302
    created = RateSeries.objects.get(code="DESK-2")
    assert (created.organization, created.fetch_enabled) == (manager.organization, False)


def test_duplicate_code_is_a_form_error(admin_client, setup):
    response = admin_client.post(
        reverse("admin:rates_rateseries_add"),
        {
            "code": "DESK",
            "title": "Again",
            "source": "rate_sheet",
            "product_type": "",
            "term_months": "",
            "frequency": "daily",
        },
    )
    assert response.status_code == 200
    assert "Your organization already has a series with this code." in response.content.decode()
    assert RateSeries.objects.filter(code="DESK").count() == 1


def test_observation_changelist_scope(admin_client, setup):
    body = admin_client.get(reverse("admin:rates_rateobservation_changelist")).content.decode()
    assert "6.125" in body and "6.999" not in body
    other = reverse("admin:rates_rateobservation_change", args=[setup["their_obs"].pk])
    assert admin_client.get(other).status_code == 302


def test_manager_enters_a_rate_by_hand_and_a_correction_is_logged(admin_client, manager, setup):
    add = admin_client.post(
        reverse("admin:rates_rateobservation_add"),
        {"series": setup["mine"].pk, "date": "2026-11-21", "rate": "6.200", **NO_INLINES},
    )
    assert add.status_code == 302
    entered = RateObservation.objects.get(series=setup["mine"], date=dt.date(2026, 11, 21))
    assert (entered.rate, entered.source, entered.entered_by) == (Decimal("6.200"), "manual", manager.user)

    change = admin_client.post(
        reverse("admin:rates_rateobservation_change", args=[setup["mine_obs"].pk]),
        {"rate": "6.250", **NO_INLINES},
    )
    assert change.status_code == 302
    setup["mine_obs"].refresh_from_db()
    assert setup["mine_obs"].rate == Decimal("6.250")
    revision = RateRevision.objects.get()
    assert (revision.old_rate, revision.new_rate) == (Decimal("6.125"), Decimal("6.250"))


def test_manager_cannot_write_public_or_other_orgs_observations(admin_client, setup):
    response = admin_client.post(
        reverse("admin:rates_rateobservation_add"),
        {"series": setup["public"].pk, "date": "2026-11-21", "rate": "5.000", **NO_INLINES},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    public = reverse("admin:rates_rateobservation_change", args=[setup["public_obs"].pk])
    assert admin_client.post(public, {"rate": "1.000"}).status_code == 403
    assert not RateObservation.objects.filter(rate=Decimal("1.000")).exists()


def test_manager_edits_own_mapping_only(admin_client, manager, setup):
    body = admin_client.get(reverse("admin:rates_seriesmapping_changelist")).content.decode()
    assert body.count('class="field-series nowrap">OBMMIFHA30YF') == 1  # theirs only, not the other org's
    mapping = SeriesMapping.objects.get(organization=manager.organization, product_type="fha", term_months=360)
    response = admin_client.post(
        reverse("admin:rates_seriesmapping_change", args=[mapping.pk]),
        {
            "product_type": "fha",
            "term_months": "360",
            "series": setup["mine"].pk,
            "fallback_series": setup["public"].pk,
        },
    )
    assert response.status_code == 302
    mapping.refresh_from_db()
    assert mapping.series == setup["mine"]
    rival = admin_client.post(
        reverse("admin:rates_seriesmapping_change", args=[mapping.pk]),
        {"product_type": "fha", "term_months": "360", "series": setup["theirs"].pk},
    )
    assert "Select a valid choice" in rival.content.decode()
    other_mapping = SeriesMapping.objects.filter(organization=setup["other_org"]).first()
    assert admin_client.get(reverse("admin:rates_seriesmapping_change", args=[other_mapping.pk])).status_code == 302


def test_duplicate_mapping_is_a_form_error(admin_client, setup):
    response = admin_client.post(
        reverse("admin:rates_seriesmapping_add"),
        {"product_type": "fha", "term_months": "360", "series": setup["mine"].pk},
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
