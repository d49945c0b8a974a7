"""Rates in one format everywhere: 6.125 % (core.money.percent: three decimals, a no-break space before the sign).

A sweep of the apps' code for the ways a rate used to be written by hand — ``f"{rate}%"``, ``{rate:.2f}``, a
``'%'`` glued to a SQL ``to_char`` — and the model texts admin shows."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from core.formatting import date_text, datetime_text
from rates.models import RateObservation, RateRevision

ROOT = Path(__file__).resolve().parent.parent
APPS = ["core", "loans", "rates", "pipeline", "outreach", "refinance", "reports", "scoring", "los", "refiapp"]

# A rate (a name with "rate" in it) written straight into an f-string with a percent sign or a float format.
HAND_MADE = [
    re.compile(r"\{[^{}]*rate[^{}]*\}%"),
    re.compile(r"\{[^{}]*rate[^{}]*:\.\d+f\}"),
    re.compile(r"'%%? \('"),  # SQL: a rate from to_char(...) followed by '% (' instead of _fmt_rate's own sign
]


def sources() -> list[Path]:
    return [
        path
        for app in APPS
        if (ROOT / app).is_dir()
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    ]


def test_no_rate_is_formatted_by_hand():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if any(pattern.search(line) for pattern in HAND_MADE)
    ]
    assert not found, "format rates with core.money.percent:\n" + "\n".join(found)


@pytest.mark.django_db
def test_admin_texts_of_rates_use_the_one_format():
    from tests.factories import RateObservationFactory

    observation = RateObservationFactory(date=dt.date(2026, 11, 20), rate=Decimal("6.125"))
    assert str(observation) == f"{observation.series_id} {date_text(dt.date(2026, 11, 20))}: 6.125\xa0%"
    revision = RateRevision(observation=observation, old_rate=Decimal("6.2"), new_rate=Decimal("6.125"), source="x")
    assert str(revision).endswith(": 6.200\xa0% → 6.125\xa0%")
    assert isinstance(observation, RateObservation)


@pytest.mark.django_db
def test_admin_texts_of_matching_use_the_one_rate_and_date_formats():
    from tests.factories import MatchRunFactory, ThresholdRuleFactory

    rule = ThresholdRuleFactory(min_spread=Decimal("0.75"))
    assert str(rule).endswith(": 0.750\xa0pts")
    run = MatchRunFactory(as_of=dt.date(2026, 11, 20))
    assert str(run) == f"Match {date_text(dt.date(2026, 11, 20))} (Succeeded)"


def test_admin_texts_of_syncs_and_scoring_use_the_one_date_time_format():
    from los.models import LosConnection, LosSync
    from scoring.models import PropensityModel, ScoringRun

    at = dt.datetime(2026, 11, 20, 15, 5, tzinfo=dt.UTC)
    with timezone.override(zoneinfo.ZoneInfo("America/Chicago")):
        sync = LosSync(connection=LosConnection(name="Encompass"), started_at=at, status=LosSync.Status.SUCCEEDED)
        assert str(sync) == f"Encompass {datetime_text(at)} ({sync.get_status_display()})"
        assert "Nov 20, 2026, 9:05" in str(sync)
        assert str(ScoringRun(started_at=at)) == "Scoring of " + datetime_text(at)
        model = PropensityModel(kind=PropensityModel.Kind.PRIOR, trained_at=at)
        assert str(model).endswith(f"({date_text(at)})") and "2026-11-20" not in str(model)
