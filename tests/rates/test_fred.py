"""FRED at the HTTP boundary: the documented request and response shapes, errors, retries, and what is stored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers

from rates.fred import FredClient, FredError, FredNotConfigured
from rates.models import RateFetch, RateObservation, RateRevision
from rates.services import fetch_all_rates, fetch_series, rate_series_ensure_defaults
from tests.factories import RateObservationFactory, RateSeriesFactory
from tests.rates.conftest import FRED_KEY, FRED_URL, fred_body

pytestmark = pytest.mark.django_db

BAD_KEY = {
    "error_code": 400,
    "error_message": "Bad Request.  The value for variable api_key is not registered.  Read "
    "https://research.stlouisfed.org/docs/api/api_key.html for more information.",
}
UNKNOWN_SERIES = {"error_code": 400, "error_message": "Bad Request.  The series does not exist."}


def stored(code: str) -> dict[dt.date, Decimal]:
    return dict(RateObservation.objects.filter(series__code=code).values_list("date", "rate"))


@responses.activate
def test_success_sends_documented_request_and_stores_observations(fred_client):
    series = RateSeriesFactory(code="OBMMIC30YF")
    responses.get(
        FRED_URL,
        match=[
            matchers.query_param_matcher(
                {
                    "series_id": "OBMMIC30YF",
                    "api_key": FRED_KEY,
                    "file_type": "json",
                    "sort_order": "asc",
                    "limit": "100000",
                    "offset": "0",
                    "observation_start": "2025-09-01",
                }
            )
        ],
        json=fred_body("OBMMIC30YF", [("2025-09-24", "6.285"), ("2025-09-25", "6.345")]),
    )

    fetch = fetch_series(series=series, since=dt.date(2025, 9, 1), client=fred_client)

    assert fetch.status == RateFetch.Status.SUCCEEDED
    assert (fetch.observations_received, fetch.created, fetch.revised) == (2, 2, 0)
    assert stored("OBMMIC30YF") == {dt.date(2025, 9, 24): Decimal("6.285"), dt.date(2025, 9, 25): Decimal("6.345")}


@responses.activate
def test_missing_values_are_skipped(fred_client):
    series = RateSeriesFactory(code="OBMMIC30YF")
    responses.get(
        FRED_URL,
        json=fred_body(
            "OBMMIC30YF", [("2025-09-01", "."), ("2025-09-02", "6.531"), ("2025-11-27", "."), ("2025-11-28", "6.20")]
        ),
    )

    fetch = fetch_series(series=series, client=fred_client)

    assert (fetch.observations_received, fetch.created) == (4, 2)
    assert stored("OBMMIC30YF") == {dt.date(2025, 9, 2): Decimal("6.531"), dt.date(2025, 11, 28): Decimal("6.200")}


@responses.activate
def test_bad_key_400_is_a_clear_error_naming_series_and_fred_message(fred_client):
    series = RateSeriesFactory(code="OBMMIC30YF")
    RateObservationFactory(series=series, date=dt.date(2025, 9, 24), rate=Decimal("6.285"))
    responses.get(FRED_URL, status=400, json=BAD_KEY)

    fetch = fetch_series(series=series, client=fred_client)

    assert fetch.status == RateFetch.Status.FAILED
    assert "The value for variable api_key is not registered." in fetch.error
    assert FRED_KEY not in fetch.error
    assert fetch.started_at <= fetch.finished_at
    assert stored("OBMMIC30YF") == {dt.date(2025, 9, 24): Decimal("6.285")}  # yesterday's data untouched
    with pytest.raises(FredError) as info:
        fred_client.observations("OBMMIC30YF")
    assert str(info.value).startswith("OBMMIC30YF: FRED rejected the request (HTTP 400): Bad Request. The value")


@responses.activate
def test_unknown_series_400_names_the_series(fred_client):
    responses.get(FRED_URL, status=400, json=UNKNOWN_SERIES)
    with pytest.raises(FredError) as info:
        fred_client.observations("OBMMINOPE")
    assert info.value.series_id == "OBMMINOPE"
    assert "The series does not exist." in str(info.value)
    assert len(responses.calls) == 1  # a 400 is not retried


@responses.activate
def test_429_then_success_retries_with_backoff(fred_client, sleeps):
    series = RateSeriesFactory(code="MORTGAGE30US", product_type="", frequency="weekly")
    responses.get(FRED_URL, status=429, json={"error_code": 429, "error_message": "Too Many Requests."})
    responses.get(FRED_URL, status=503, body="Service Unavailable")
    responses.get(FRED_URL, json=fred_body("MORTGAGE30US", [("2026-05-14", "6.36")]))

    fetch = fetch_series(series=series, client=fred_client)

    assert fetch.status == RateFetch.Status.SUCCEEDED
    assert len(responses.calls) == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff, never a real sleep in tests
    assert stored("MORTGAGE30US") == {dt.date(2026, 5, 14): Decimal("6.360")}


@responses.activate
def test_429_retry_after_header_is_honoured(fred_client, sleeps):
    responses.get(FRED_URL, status=429, headers={"Retry-After": "7"}, json={})
    responses.get(FRED_URL, json=fred_body("OBMMIC30YF", [("2025-09-25", "6.345")]))
    assert len(fred_client.observations("OBMMIC30YF").observations) == 1
    assert sleeps == [7.0]


@responses.activate
def test_persistent_5xx_gives_up_and_records_failure(fred_client, sleeps):
    series = RateSeriesFactory(code="OBMMIC30YF")
    for _ in range(3):
        responses.get(FRED_URL, status=500, body="Internal Server Error")

    fetch = fetch_series(series=series, client=fred_client)

    assert fetch.status == RateFetch.Status.FAILED
    assert fetch.error == "FRED answered HTTP 500; gave up after 3 attempts"
    assert len(sleeps) == 2
    assert not stored("OBMMIC30YF")


@responses.activate
def test_timeout_is_retried_then_recorded(fred_client, sleeps):
    series = RateSeriesFactory(code="OBMMIC30YF")
    for _ in range(3):
        responses.get(FRED_URL, body=requests.exceptions.ReadTimeout("read timed out"))

    fetch = fetch_series(series=series, client=fred_client)

    assert fetch.status == RateFetch.Status.FAILED
    assert fetch.error == "FRED did not answer within 30 s (ReadTimeout); gave up after 3 attempts"
    assert sleeps == [0.5, 1.0]
    assert not stored("OBMMIC30YF")


@responses.activate
def test_timeout_then_success(fred_client):
    responses.get(FRED_URL, body=requests.exceptions.ConnectTimeout("connect timed out"))
    responses.get(FRED_URL, json=fred_body("OBMMIC30YF", [("2025-09-25", "6.345")]))
    assert fred_client.observations("OBMMIC30YF").observations[0].rate == Decimal("6.345")


def test_client_uses_a_session_with_connect_and_read_timeouts(fred_key):
    client = FredClient()
    assert isinstance(client.session, requests.Session)
    assert client.timeout == (5.0, 30.0)


@responses.activate
def test_malformed_json_stores_nothing(fred_client):
    series = RateSeriesFactory(code="OBMMIC30YF")
    responses.get(
        FRED_URL, body='{"observations": [{"date": "2025-09-25", "value": "6.3', content_type="application/json"
    )

    fetch = fetch_series(series=series, client=fred_client)

    assert fetch.status == RateFetch.Status.FAILED
    assert "not valid JSON" in fetch.error
    assert not stored("OBMMIC30YF")


@pytest.mark.parametrize(
    ("observations", "message"),
    [
        ([("2025-09-24", "6.285"), ("2025-09-25", "six")], "malformed value 'six'"),
        ([("2025-09-24", "6.285"), ("2025/09/25", "6.345")], "malformed date '2025/09/25'"),
        ([("2025-09-24", "6.285"), ("2025-09-25", "63.45")], "impossible rate '63.45'"),
        ([("2025-09-24", "6.285"), ("2025-09-24", "6.345")], "repeats the date 2025-09-24"),
    ],
)
@responses.activate
def test_one_garbled_observation_rejects_the_whole_response(fred_client, observations, message):
    series = RateSeriesFactory(code="OBMMIC30YF")
    responses.get(FRED_URL, json=fred_body("OBMMIC30YF", observations))

    fetch = fetch_series(series=series, client=fred_client)

    assert fetch.status == RateFetch.Status.FAILED
    assert message in fetch.error
    assert not stored("OBMMIC30YF")  # not even the good first row


@responses.activate
def test_numbers_instead_of_strings_are_not_the_documented_shape(fred_client):
    body = fred_body("OBMMIC30YF", [("2025-09-25", "6.345")])
    body["observations"][0]["value"] = 6.345
    responses.get(FRED_URL, json=body)
    with pytest.raises(FredError, match="lacks a string 'date' and 'value'"):
        fred_client.observations("OBMMIC30YF")


@responses.activate
def test_revision_updates_value_and_logs_it(fred_client):
    series = RateSeriesFactory(code="OBMMIC30YF")
    obs = RateObservationFactory(series=series, date=dt.date(2025, 9, 25), rate=Decimal("6.345"))
    responses.get(FRED_URL, json=fred_body("OBMMIC30YF", [("2025-09-24", "6.285"), ("2025-09-25", "6.350")]))

    fetch = fetch_series(series=series, client=fred_client)

    assert (fetch.created, fetch.revised) == (1, 1)
    obs.refresh_from_db()
    assert obs.rate == Decimal("6.350")
    revision = RateRevision.objects.get()
    assert (revision.observation, revision.old_rate, revision.new_rate, revision.source) == (
        obs,
        Decimal("6.345"),
        Decimal("6.350"),
        "fred",
    )


@responses.activate
def test_refetch_is_a_no_op(fred_client):
    series = RateSeriesFactory(code="OBMMIC30YF")
    body = fred_body("OBMMIC30YF", [("2025-09-24", "6.285"), ("2025-09-25", "6.345")])
    responses.get(FRED_URL, json=body)
    responses.get(FRED_URL, json=body)

    fetch_series(series=series, client=fred_client)
    before = list(RateObservation.objects.values_list("pk", "date", "rate", "updated_at"))
    second = fetch_series(series=series, client=fred_client)

    assert (second.created, second.revised) == (0, 0)
    assert list(RateObservation.objects.values_list("pk", "date", "rate", "updated_at")) == before
    assert not RateRevision.objects.exists()


@responses.activate
def test_default_start_rereads_four_weeks_for_revisions(fred_client):
    series = RateSeriesFactory(code="OBMMIC30YF")
    RateObservationFactory(series=series, date=dt.date(2025, 9, 25), rate=Decimal("6.345"))
    responses.get(
        FRED_URL,
        match=[matchers.query_param_matcher({"observation_start": "2025-08-28"}, strict_match=False)],
        json=fred_body("OBMMIC30YF", []),
    )
    assert fetch_series(series=series, client=fred_client).status == RateFetch.Status.SUCCEEDED


@responses.activate
def test_fetch_all_continues_after_one_series_fails(fred_client):
    rate_series_ensure_defaults()
    ok = fred_body("X", [("2025-09-25", "6.000")])
    for code in ["MORTGAGE15US", "MORTGAGE30US", "OBMMIC15YF", "OBMMIFHA30YF", "OBMMIJUMBO30YF", "OBMMIUSDA30YF"]:
        responses.get(FRED_URL, match=[matchers.query_param_matcher({"series_id": code}, strict_match=False)], json=ok)
    responses.get(
        FRED_URL,
        match=[matchers.query_param_matcher({"series_id": "OBMMIC30YF"}, strict_match=False)],
        status=400,
        json=UNKNOWN_SERIES,
    )
    responses.get(
        FRED_URL, match=[matchers.query_param_matcher({"series_id": "OBMMIVA30YF"}, strict_match=False)], json=ok
    )

    fetches = fetch_all_rates(client=fred_client)

    assert [(f.series.code, f.status) for f in fetches if f.status == RateFetch.Status.FAILED] == [
        ("OBMMIC30YF", RateFetch.Status.FAILED)
    ]
    assert len(fetches) == 8
    assert RateObservation.objects.count() == 7


def test_without_key_nothing_is_fetched_or_stored(settings, caplog):
    settings.FRED_API_KEY = ""
    rate_series_ensure_defaults()
    with pytest.raises(FredNotConfigured):
        FredClient()
    with responses.RequestsMock() as mock:  # any HTTP call would fail this test
        assert fetch_all_rates() == []
        assert not mock.calls
    assert "FRED_API_KEY is not set" in caplog.text
    assert not RateFetch.objects.exists()
    assert not RateObservation.objects.exists()
