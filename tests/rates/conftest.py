from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from rates.fred import FredClient

FRED_URL = "https://api.stlouisfed.org/fred/series/observations"
FRED_KEY = "abcdefghij0123456789abcdefghij01"  # 32 lower-case alphanumerics, as FRED requires
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENVELOPE = json.loads((FIXTURES / "fred_observations_response_excerpt.json").read_text())


def fred_body(series_id: str, values: list[tuple[str, str]], start: str = "1776-07-04") -> dict[str, Any]:
    """FRED's documented JSON shape (the real saved envelope), with these (date, value) observations."""
    body = copy.deepcopy(ENVELOPE)
    body.pop("_source")
    body.update(
        {
            "realtime_start": "2026-11-20",
            "realtime_end": "2026-11-20",
            "observation_start": start,
            "count": len(values),
            "observations": [
                {"realtime_start": "2026-11-20", "realtime_end": "2026-11-20", "date": d, "value": v} for d, v in values
            ],
        }
    )
    return body


@pytest.fixture
def fred_key(settings):  # type: ignore[no-untyped-def]
    settings.FRED_API_KEY = FRED_KEY
    settings.FRED_API_URL = FRED_URL
    return FRED_KEY


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def fred_client(fred_key, sleeps) -> FredClient:  # type: ignore[no-untyped-def]
    """A real client whose backoff waits are recorded instead of slept."""
    return FredClient(sleep=sleeps.append, backoff=0.5, max_attempts=3)
