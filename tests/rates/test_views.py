from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from rates.models import RateObservation, RateSeries
from rates.services import rates_load_shipped_history, series_mappings_ensure_defaults
from tests.factories import LoanFactory, OrganizationFactory, RateSeriesFactory, SeriesMappingFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def shipped(officer):
    rates_load_shipped_history()
    series_mappings_ensure_defaults(organization=officer.organization)


def chart_data(response):
    match = re.search(
        r'<script id="rates-chart-data" type="application/json">(.*?)</script>', response.content.decode()
    )
    return json.loads(match.group(1))


@time_machine.travel(NOW, tick=False)
def test_rates_page_shows_rates_changes_chart_and_loan_counts(officer, officer_client, shipped, settings):
    settings.FRED_API_KEY = ""
    LoanFactory(loan_officer=officer, note_rate=Decimal("7.250"))  # ≥ 6.345 + 0.625
    LoanFactory(loan_officer=officer, note_rate=Decimal("6.500"))
    LoanFactory(note_rate=Decimal("7.900"))  # another organization's

    response = officer_client.get(reverse("pipeline:rates"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "refiapp runs on the real FRED history shipped with it" in body
    assert "newest public observation is from <strong>May 14, 2026</strong>" in body  # MORTGAGE30US
    row = re.search(
        r"<th scope=\"row\"[^>]*><a href=\"https://fred.stlouisfed.org/series/OBMMIC30YF\".*?</tr>", body, re.S
    )
    assert "6.345\xa0%" in row.group(0) and "Sep 25, 2025" in row.group(0)
    assert "+0.089" in row.group(0) and "-0.169" in row.group(0)
    assert 'data-product="conforming-360">1<' in body
    assert "/static/chart.umd.min.js" in body and "/static/js/rates.js" in body
    assert "cdn" not in body.lower()

    data = chart_data(response)
    conf = next(s for s in data["series"] if s["code"] == "OBMMIC30YF")
    assert conf["points"][-1] == ["2025-09-25", "6.345"]
    assert conf["points"][0][0] >= "2025-05-14"  # one year back from the newest observation shown
    trigger = next(t for t in data["triggers"] if t["label"].startswith("Conforming 30-year"))
    assert (trigger["value"], trigger["loans"]) == ("6.970", 1)
    assert "loans ≥ 6.970\xa0% (OBMMIC30YF 6.345\xa0% + threshold)" in trigger["label"]  # one rate format


@time_machine.travel(NOW, tick=False)
def test_rates_page_range_all(officer_client, shipped):
    data = chart_data(officer_client.get(reverse("pipeline:rates"), {"range": "all"}))
    pmms = next(s for s in data["series"] if s["code"] == "MORTGAGE30US")
    assert pmms["points"][0] == ["1971-04-02", "7.330"]
    assert len(pmms["points"]) == 2877


@time_machine.travel(NOW, tick=False)
def test_rates_page_is_tenant_scoped(officer, officer_client, shipped):
    org = officer.organization
    RateSeriesFactory(organization=org, code="MY-DESK", title="Our desk sheet", source=RateSeries.Source.RATE_SHEET)
    other = RateSeriesFactory(
        organization=OrganizationFactory(), code="THEIR-DESK", title="Their secret sheet", source="rate_sheet"
    )
    RateObservation.objects.create(series=other, date=dt.date(2026, 11, 20), rate=Decimal("9.876"))

    body = officer_client.get(reverse("pipeline:rates"), {"range": "all"}).content.decode()

    assert "MY-DESK" in body and "Our desk sheet" in body
    assert "THEIR-DESK" not in body and "Their secret sheet" not in body and "9.876" not in body


@time_machine.travel(NOW, tick=False)
def test_rates_page_query_count_is_bounded(officer, officer_client, shipped, django_assert_max_num_queries):
    for _ in range(5):
        LoanFactory(loan_officer=officer)
    with django_assert_max_num_queries(20):
        assert officer_client.get(reverse("pipeline:rates")).status_code == 200


@time_machine.travel(NOW, tick=False)
def test_rates_page_shows_rate_sheet_provenance_and_fetch_note(officer_client, officer, shipped, settings):
    from rates.services import demo_rate_sheet_ensure

    settings.FRED_API_KEY = "abcdefghij0123456789abcdefghij01"
    demo_rate_sheet_ensure(organization=officer.organization, as_of=dt.date(2026, 11, 22))
    body = officer_client.get(reverse("pipeline:rates")).content.decode()
    assert "Fetched from FRED every business day." in body
    assert "Demo desk rate sheet: Conforming 30-year — value copied from FRED OBMMIC30YF of Sep 25, 2025" in body
    assert "Rate-sheet upload · your organization's own series" in body


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("pipeline:rates"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_rate_sheet_upload_is_for_managers(officer_client, manager_client):
    assert officer_client.get(reverse("rates:rate_sheet")).status_code == 403
    assert manager_client.get(reverse("rates:rate_sheet")).status_code == 200


def upload(client, content: str, **extra):
    return client.post(
        reverse("rates:rate_sheet"),
        {"file": SimpleUploadedFile("sheet.csv", content.encode(), "text/csv"), "use_for_pricing": "on", **extra},
    )


def test_rate_sheet_preview_then_import(manager, manager_client):
    series_mappings_ensure_defaults(organization=manager.organization)
    sheet = "product,date,rate\nConforming 30,2026-11-20,6.125\nVA 30,11/20/2026,5.750\n"

    preview = upload(manager_client, sheet)

    assert preview.status_code == 200
    body = preview.content.decode()
    assert "RATESHEET-CONFORMING-30Y" in body and "Import 2 rates" in body
    assert not RateObservation.objects.exists()  # a preview writes nothing

    confirm = preview.context["confirm"]
    response = manager_client.post(
        reverse("rates:rate_sheet"), {"content": confirm.initial["content"], "use_for_pricing": "True"}, follow=True
    )

    assert response.redirect_chain == [(reverse("pipeline:rates"), 302)]
    assert "Rate sheet imported: 2 new, 0 revised, 0 unchanged." in response.content.decode()
    assert dict(
        RateObservation.objects.filter(series__organization=manager.organization).values_list("series__code", "rate")
    ) == {"RATESHEET-CONFORMING-30Y": Decimal("6.125"), "RATESHEET-VA-30Y": Decimal("5.750")}


def test_rate_sheet_with_bad_rows_shows_every_error_and_imports_nothing(manager_client):
    response = upload(
        manager_client, "product,date,rate\nConforming 30,2026-11-20,6.125\nFHA 30,tomorrow,5.9\nVA 30,2026-11-20,\n"
    )
    body = response.content.decode()
    assert "2 problems" in body
    assert "line 3: date &#x27;tomorrow&#x27; is not YYYY-MM-DD or MM/DD/YYYY" in body
    assert "line 4: rate &#x27;&#x27; is not a number" in body
    assert 'type="submit">Import ' not in body  # no confirm button
    assert not RateObservation.objects.exists()
    assert not RateSeries.objects.exists()


def test_rate_sheet_confirm_rechecks_the_content(manager_client):
    response = manager_client.post(
        reverse("rates:rate_sheet"), {"content": "product,date,rate\nNope 30,2026-11-20,6\n"}
    )
    assert "The sheet was not imported." in response.content.decode()
    assert not RateObservation.objects.exists()


def test_single_mapping_org_without_rates_shows_empty_states(officer_client, officer):
    SeriesMappingFactory(organization=officer.organization)
    body = officer_client.get(reverse("pipeline:rates")).content.decode()
    assert "No product has a rate yet." in body


@time_machine.travel(NOW, tick=False)
def test_a_future_dated_sheet_is_refused(manager_client):
    """Before issue 12 a sheet dated tomorrow was accepted without a word."""
    response = upload(manager_client, "product,date,rate\nConforming 30,2026-11-23,6.125\n")
    body = response.content.decode()
    assert "line 2: Nov 23, 2026 is in the future (today is Nov 22, 2026 in America/Chicago)" in body
    assert 'type="submit">Import ' not in body
    assert not RateObservation.objects.exists()


def _import(client, sheet: str, *, price: bool = True):  # type: ignore[no-untyped-def]
    preview = (
        upload(client, sheet)
        if price
        else client.post(
            reverse("rates:rate_sheet"), {"file": SimpleUploadedFile("sheet.csv", sheet.encode(), "text/csv")}
        )
    )
    confirm = preview.context["confirm"]
    data = {"content": confirm.initial["content"], "use_for_pricing": "True" if price else ""}
    return client.post(reverse("rates:rate_sheet"), data, follow=True)


@time_machine.travel(NOW, tick=False)
def test_an_upload_reprices_the_boards_rates_and_offers_the_match(manager, manager_client):
    """A sheet first uploaded without "price these products", then with it: the second upload must price them
    (before issue 12 the existing series was never mapped, so the board kept its old rates), and the rates page
    offers the match until one has run on the new rates."""
    series_mappings_ensure_defaults(organization=manager.organization)
    _import(manager_client, "product,date,rate\nConforming 30,2026-11-21,6.250\n", price=False)
    response = _import(manager_client, "product,date,rate\nConforming 30,2026-11-22,6.125\n")
    body = response.content.decode()
    assert "The board has not seen these rates yet" in body
    assert "Run match now" in body
    board = manager_client.get(reverse("pipeline:board")).context
    assert board["rates_status"].newest == dt.date(2026, 11, 22)  # the board's rate tile reads the sheet
    from pipeline.services.matching import match_organization

    match_organization(organization=manager.organization)
    assert (
        "The board has not seen these rates yet" not in manager_client.get(reverse("pipeline:rates")).content.decode()
    )
