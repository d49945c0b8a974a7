"""A small client for FRED's ``fred/series/observations`` endpoint (FORMATS.md §1).

Only the network edge lives here: build the request, retry with backoff on 429 / 5xx / timeouts, and turn
the documented JSON shape into checked ``(date, Decimal)`` pairs. A response that does not have that shape
is rejected as a whole, so nothing partial or garbled ever reaches the database. Storing is the job of
``rates.services``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings

from core.money import MAX_RATE
from core.money import rate as round_rate

logger = logging.getLogger(__name__)

MISSING = "."  # FRED's marker for "no value on this date" (holidays).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PAGE_LIMIT = 100_000  # FRED's maximum page size.


class FredError(Exception):
    """A fetch that failed; the message names the series and says why (safe to show and to store)."""

    def __init__(self, series_id: str, message: str) -> None:
        self.series_id = series_id
        self.message = message
        super().__init__(f"{series_id}: {message}")


class FredNotConfigured(Exception):
    """FRED_API_KEY is not set: the app runs on the shipped history and fetches nothing."""


@dataclass(frozen=True)
class FredObservation:
    date: dt.date
    rate: Decimal


@dataclass
class FredSeriesData:
    series_id: str
    observations: list[FredObservation] = field(default_factory=list)
    missing: int = 0  # values of "." that were skipped


class FredClient:
    """``FredClient(api_key=...).observations("OBMMIC30YF", start=date)``.

    ``sleep`` is injectable so tests exercise the retries without waiting.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        session: requests.Session | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 4,
        backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_key = settings.FRED_API_KEY if api_key is None else api_key
        if not self.api_key:
            raise FredNotConfigured("FRED_API_KEY is not set")
        self.base_url = base_url or settings.FRED_API_URL
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "refiapp (+https://github.com/refiapp)")
        self.timeout = (connect_timeout, read_timeout)
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.sleep = sleep

    def observations(
        self,
        series_id: str,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        max_value: Decimal = MAX_RATE,
        places: Callable[[Decimal], Decimal] = round_rate,
    ) -> FredSeriesData:
        """Every observation of one series from ``start`` (inclusive), checked; raises FredError.

        Values must lie in 0..``max_value`` and are rounded by ``places`` (defaults: a mortgage rate in percent
        with three decimals; the house price indexes of ``scoring.services.hpi`` pass their own)."""
        params: dict[str, Any] = {
            "series_id": series_id,
            "api_key": self.api_key,
            "file_type": "json",
            "sort_order": "asc",
            "limit": PAGE_LIMIT,
        }
        if start:
            params["observation_start"] = start.isoformat()
        if end:
            params["observation_end"] = end.isoformat()
        result = FredSeriesData(series_id=series_id)
        seen: set[dt.date] = set()
        offset = 0
        while True:
            payload = self._get_json(series_id, {**params, "offset": offset})
            page = _parse_observations(series_id, payload, seen, max_value=max_value, places=places)
            result.observations.extend(page.observations)
            result.missing += page.missing
            received = len(payload["observations"])
            count = payload.get("count")
            offset += received
            if not received or not isinstance(count, int) or offset >= count:
                return result

    # -- HTTP with retries --------------------------------------------------------------------------------------

    def _get_json(self, series_id: str, params: dict[str, Any]) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.get(self.base_url, params=params, timeout=self.timeout)
            except requests.Timeout as exc:
                reason = f"FRED did not answer within {self.timeout[1]:g} s ({type(exc).__name__})"
            except requests.ConnectionError as exc:
                reason = f"could not connect to FRED ({self._redact(str(exc))[:200]})"
            else:
                if response.status_code == 200:
                    return self._decode(series_id, response)
                if response.status_code not in RETRY_STATUSES:
                    raise FredError(series_id, self._error_message(response))
                reason = f"FRED answered HTTP {response.status_code}"
                if response.status_code == 429:
                    reason += " (rate limit: 120 requests per minute per key)"
                if attempt < self.max_attempts:
                    delay = self._retry_after(response) or self._delay(attempt)
                    logger.warning("FRED %s: %s; retry %d in %.1f s", series_id, reason, attempt, delay)
                    self.sleep(delay)
                    continue
            if attempt >= self.max_attempts:
                raise FredError(series_id, f"{reason}; gave up after {attempt} attempts")
            delay = self._delay(attempt)
            logger.warning("FRED %s: %s; retry %d in %.1f s", series_id, reason, attempt, delay)
            self.sleep(delay)

    def _delay(self, attempt: int) -> float:
        return self.backoff * (2 ** (attempt - 1))

    def _retry_after(self, response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After", "")
        return min(float(value), 60.0) if value.isdigit() else None

    def _decode(self, series_id: str, response: requests.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError as exc:
            raise FredError(series_id, "FRED returned a response that is not valid JSON; nothing stored") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("observations"), list):
            raise FredError(series_id, "FRED's response has no 'observations' list; nothing stored")
        return payload

    def _error_message(self, response: requests.Response) -> str:
        """FRED's 400 body is ``{"error_code": 400, "error_message": "Bad Request.  ..."}``: show its message."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error_message"), str):
            message = " ".join(body["error_message"].split())
            return f"FRED rejected the request (HTTP {response.status_code}): {self._redact(message)}"
        text = " ".join(response.text.split())[:200]
        return f"FRED answered HTTP {response.status_code}: {self._redact(text) or response.reason}"

    def _redact(self, text: str) -> str:
        return text.replace(self.api_key, "<FRED_API_KEY>") if self.api_key else text


def _parse_observations(
    series_id: str,
    payload: dict[str, Any],
    seen: set[dt.date],
    *,
    max_value: Decimal = MAX_RATE,
    places: Callable[[Decimal], Decimal] = round_rate,
) -> FredSeriesData:
    """Check every observation before returning any: one bad row rejects the whole response."""
    result = FredSeriesData(series_id=series_id)
    for index, item in enumerate(payload["observations"]):
        where = f"observation {index + 1}"
        if not isinstance(item, dict):
            raise FredError(series_id, f"{where} is not an object; nothing stored")
        raw_date, raw_value = item.get("date"), item.get("value")
        if not isinstance(raw_date, str) or not isinstance(raw_value, str):
            raise FredError(series_id, f"{where} lacks a string 'date' and 'value'; nothing stored")
        try:
            date = dt.date.fromisoformat(raw_date)
        except ValueError as exc:
            raise FredError(series_id, f"{where} has a malformed date {raw_date!r}; nothing stored") from exc
        if date in seen:
            raise FredError(series_id, f"{where} repeats the date {date}; nothing stored")
        seen.add(date)
        value = raw_value.strip()
        if value == MISSING:
            result.missing += 1
            continue
        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise FredError(series_id, f"{where} ({date}) has a malformed value {raw_value!r}; nothing stored") from exc
        if not number.is_finite() or not (0 <= number <= max_value):
            what = "rate" if max_value == MAX_RATE else "value"
            raise FredError(series_id, f"{where} ({date}) has an impossible {what} {raw_value!r}; nothing stored")
        result.observations.append(FredObservation(date=date, rate=places(number)))
    return result
