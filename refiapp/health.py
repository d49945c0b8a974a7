"""GET /healthz: is this instance able to serve, and is the daily work being done?

For load balancers, orchestrators and monitoring; no login. It answers only ok flags and ages (seconds since the
last successful match of any organization and the last successful FRED fetch), never a tenant's data.
200 when every check is ok, 503 otherwise:

* database: a query answers;
* cache: a value written to the cache reads back (Redis when REDIS_URL is set);
* broker: the django-q2 broker answers (Redis ping; the ORM broker is the database);
* match / rates: the last success is younger than HEALTHZ_MATCH_MAX_AGE_HOURS / HEALTHZ_RATES_MAX_AGE_HOURS (a
  weekend is four days without a match). Never having run yet (a new install, FRED not configured) is ok.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Max
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pipeline.models import MatchRun
from rates.models import RateFetch
from rates.services import fred_configured


def _failed(exc: Exception) -> dict[str, Any]:
    return {"ok": False, "error": type(exc).__name__}


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure is "not ok"
        return _failed(exc)
    return {"ok": True}


def check_cache() -> dict[str, Any]:
    backend = "redis" if "redis" in settings.CACHES["default"]["BACKEND"].lower() else "local memory"
    token = secrets.token_hex(8)
    try:
        cache.set("refiapp:healthz", token, 30)
        ok = cache.get("refiapp:healthz") == token
    except Exception as exc:  # noqa: BLE001
        return {**_failed(exc), "backend": backend}
    return {"ok": ok, "backend": backend}


def check_broker(database_ok: bool) -> dict[str, Any]:
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    if Conf.ORM:
        return {"ok": database_ok, "backend": "orm"}
    try:
        ok = bool(get_broker().ping())
    except Exception as exc:  # noqa: BLE001
        return {**_failed(exc), "backend": "redis"}
    return {"ok": ok, "backend": "redis"}


def _age(last: Any, *, max_age_hours: int) -> dict[str, Any]:
    if last is None:
        return {"ok": True, "age_seconds": None}
    age = max(0, int((timezone.now() - last).total_seconds()))
    return {"ok": age <= max_age_hours * 3600, "age_seconds": age}


def check_match() -> dict[str, Any]:
    last = MatchRun.objects.filter(status=MatchRun.Status.SUCCEEDED).aggregate(last=Max("finished_at"))["last"]
    return _age(last, max_age_hours=settings.HEALTHZ_MATCH_MAX_AGE_HOURS)


def check_rates() -> dict[str, Any]:
    if not fred_configured():
        return {"ok": True, "age_seconds": None, "configured": False}
    last = RateFetch.objects.filter(status=RateFetch.Status.SUCCEEDED).aggregate(last=Max("finished_at"))["last"]
    return {**_age(last, max_age_hours=settings.HEALTHZ_RATES_MAX_AGE_HOURS), "configured": True}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, dict[str, Any]] = {"database": check_database()}
    checks["cache"] = check_cache()
    checks["broker"] = check_broker(checks["database"]["ok"])
    if checks["database"]["ok"]:
        try:
            checks["match"] = check_match()
            checks["rates"] = check_rates()
        except Exception as exc:  # noqa: BLE001
            checks["match"] = checks["rates"] = _failed(exc)
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "failing", "checks": checks}, status=200 if healthy else 503)
