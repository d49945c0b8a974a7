from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import responses
from django.core.management import CommandError, call_command
from responses import matchers

from rates import tasks
from rates.models import RateFetch, RateObservation
from rates.services import rate_series_ensure_defaults
from tests.factories import OrganizationFactory
from tests.rates.conftest import FRED_URL, fred_body

pytestmark = pytest.mark.django_db


@responses.activate
def test_fetch_rates_prints_what_it_stored(fred_key, capsys):
    rate_series_ensure_defaults()
    responses.get(
        FRED_URL,
        match=[
            matchers.query_param_matcher(
                {"series_id": "OBMMIC30YF", "observation_start": "2025-09-01"}, strict_match=False
            )
        ],
        json=fred_body("OBMMIC30YF", [("2025-09-24", "6.285"), ("2025-09-25", "6.345"), ("2025-09-26", ".")]),
    )
    responses.get(
        FRED_URL,
        match=[matchers.query_param_matcher({"series_id": "MORTGAGE30US"}, strict_match=False)],
        json=fred_body("MORTGAGE30US", [("2025-09-25", "6.30")]),
    )

    call_command("fetch_rates", "--series", "OBMMIC30YF", "mortgage30us", "--since", "2025-09-01")

    out = capsys.readouterr().out
    assert "MORTGAGE30US: received 1, stored 1 new, 0 revised" in out
    assert "OBMMIC30YF: received 3, stored 2 new, 0 revised" in out
    assert "Fetched 2 series." in out
    assert RateObservation.objects.count() == 3


def test_fetch_rates_without_key_says_so_and_stores_nothing(settings):
    settings.FRED_API_KEY = ""
    with pytest.raises(CommandError, match="FRED_API_KEY is not set: nothing fetched"):
        call_command("fetch_rates")
    assert not RateFetch.objects.exists()


def test_fetch_rates_unknown_series(fred_key):
    with pytest.raises(CommandError, match="unknown FRED series NOPE"):
        call_command("fetch_rates", "--series", "NOPE")


def test_fetch_rates_bad_since(fred_key):
    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("fetch_rates", "--since", "yesterday")


@responses.activate
def test_fetch_rates_failure_exits_non_zero_with_freds_message(fred_key, capsys):
    rate_series_ensure_defaults()
    responses.get(
        FRED_URL,
        status=400,
        json={"error_code": 400, "error_message": "Bad Request.  Variable api_key is not set."},
    )
    with pytest.raises(CommandError, match="1 of 1 series failed"):
        call_command("fetch_rates", "--series", "OBMMIVA30YF")
    assert "OBMMIVA30YF: FAILED — FRED rejected the request (HTTP 400): Bad Request. Variable api_key is not set." in (
        capsys.readouterr().err
    )
    fetch = RateFetch.objects.get()
    assert (fetch.series.code, fetch.status) == ("OBMMIVA30YF", "failed")


@responses.activate
def test_task_summarises_the_daily_fetch(fred_key):
    rate_series_ensure_defaults()
    responses.get(FRED_URL, json=fred_body("X", [("2025-09-25", "6.000")]))
    summary = tasks.fetch_rates()
    assert summary.count(": 1 new, 0 revised") == 8
    assert RateObservation.objects.filter(date=dt.date(2025, 9, 25), rate=Decimal("6.000")).count() == 8


def test_task_without_key(settings):
    settings.FRED_API_KEY = ""
    assert tasks.fetch_rates() == "FRED_API_KEY is not set: nothing fetched (running on the shipped FRED history)"


def test_import_rates_rate_sheet_needs_an_organization(tmp_path, capsys):
    sheet = tmp_path / "desk.csv"
    sheet.write_text("product,date,rate\nConforming 30,2026-11-20,6.125\n")
    with pytest.raises(CommandError, match="needs --organization"):
        call_command("import_rates", str(sheet))
    org = OrganizationFactory(slug="acme")
    call_command("import_rates", str(sheet), "--organization", "acme")
    assert "desk.csv: rate sheet for acme — stored 1 new, 0 revised, 0 unchanged" in capsys.readouterr().out
    assert RateObservation.objects.get().series.organization == org


def test_import_rates_bad_rate_sheet_lists_errors(tmp_path):
    OrganizationFactory(slug="acme")
    sheet = tmp_path / "desk.csv"
    sheet.write_text("product,date,rate\nConforming 30,2026-11-20,6.125\nFHA 30,2026-11-20,lots\n")
    with pytest.raises(CommandError, match="line 3: rate 'lots' is not a number"):
        call_command("import_rates", str(sheet), "--organization", "acme")
    assert not RateObservation.objects.exists()


def test_import_rates_missing_file():
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_rates", "/nonexistent/OBMMIC30YF.csv")
