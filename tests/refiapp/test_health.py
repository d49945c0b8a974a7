"""GET /healthz: database, cache, broker and the age of the daily work; 200 or 503; no login, no tenant data."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
import time_machine
from django.test import Client, override_settings
from django_q.conf import Conf

from pipeline.models import MatchRun
from rates.models import RateFetch
from tests.factories import MatchRunFactory, OrganizationFactory, RateSeriesFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
LOCAL_REDIS = "redis://127.0.0.1:6379/4"
CLOSED_PORT = "redis://127.0.0.1:1/0"  # nothing listens on port 1 of the loopback


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def redis_available() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


def get(**extra):  # type: ignore[no-untyped-def]
    response = Client().get("/healthz", **extra)
    return response, response.json()


def succeeded_match(organization, hours_ago: float) -> MatchRun:  # type: ignore[no-untyped-def]
    return MatchRunFactory(organization=organization, finished_at=NOW - dt.timedelta(hours=hours_ago))


def test_healthy_instance_answers_200_with_ages_and_no_tenant_data():
    secret_org = OrganizationFactory(name="Secretive Lender ORGX", slug="orgx-secret")
    succeeded_match(secret_org, hours_ago=20)
    succeeded_match(secret_org, hours_ago=2)
    MatchRunFactory(organization=secret_org, status=MatchRun.Status.FAILED, finished_at=NOW)

    response, body = get()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert body == {
        "status": "ok",
        "checks": {
            "database": {"ok": True},
            "cache": {"ok": True, "backend": "local memory"},
            "broker": {"ok": True, "backend": "orm"},
            "match": {"ok": True, "age_seconds": 7200},
            "rates": {"ok": True, "age_seconds": None, "configured": False},
        },
    }
    assert b"ORGX" not in response.content and b"orgx" not in response.content


def test_a_new_install_that_never_matched_is_healthy():
    response, body = get()
    assert response.status_code == 200
    assert body["checks"]["match"] == {"ok": True, "age_seconds": None}


def test_a_match_older_than_the_limit_answers_503():
    succeeded_match(OrganizationFactory(), hours_ago=101)
    response, body = get()
    assert response.status_code == 503
    assert body["status"] == "failing"
    assert body["checks"]["match"] == {"ok": False, "age_seconds": 101 * 3600}
    assert body["checks"]["database"] == {"ok": True}


def test_fred_fetch_age_when_fred_is_configured(settings):
    settings.FRED_API_KEY = "k" * 32
    series = RateSeriesFactory(code="MORTGAGE30US")
    for hours_ago, status in ((30, RateFetch.Status.SUCCEEDED), (3, RateFetch.Status.SUCCEEDED), (1, "failed")):
        RateFetch.objects.create(
            series=series,
            status=status,
            started_at=NOW - dt.timedelta(hours=hours_ago, minutes=1),
            finished_at=NOW - dt.timedelta(hours=hours_ago),
        )
    response, body = get()
    assert response.status_code == 200
    assert body["checks"]["rates"] == {"ok": True, "age_seconds": 3 * 3600, "configured": True}

    settings.HEALTHZ_RATES_MAX_AGE_HOURS = 2
    response, body = get()
    assert response.status_code == 503
    assert body["checks"]["rates"]["ok"] is False


def test_an_unreachable_redis_cache_answers_503():
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED_PORT}}
    ):
        response, body = get()
    assert response.status_code == 503
    assert body["checks"]["cache"] == {"ok": False, "error": "ConnectionError", "backend": "redis"}


def test_an_unreachable_redis_broker_answers_503(monkeypatch):
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", CLOSED_PORT)
    response, body = get()
    assert response.status_code == 503
    assert body["checks"]["broker"] == {"ok": False, "error": "ConnectionError", "backend": "redis"}


def test_a_live_redis_cache_and_broker_are_ok(monkeypatch):
    if not redis_available():
        pytest.skip("no Redis on 127.0.0.1:6379 (.ci/run starts one)")
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", LOCAL_REDIS)
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": LOCAL_REDIS}}
    ):
        response, body = get()
    assert response.status_code == 200, body
    assert body["checks"]["cache"] == {"ok": True, "backend": "redis"}
    assert body["checks"]["broker"] == {"ok": True, "backend": "redis"}


def test_no_login_and_no_https_redirect_for_probes(settings):
    settings.SECURE_SSL_REDIRECT = True
    response, _ = get()  # plain http, anonymous
    assert response.status_code == 200
    assert Client().get("/accounts/login/").status_code == 301  # everything else still goes to https
    assert Client().post("/healthz").status_code == 405
