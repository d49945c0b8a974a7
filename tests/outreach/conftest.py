from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from outreach.models import Sequence, SequenceStep
from tests.factories import (
    LoanFactory,
    OpportunityFactory,
    RateObservationFactory,
    SeriesMappingFactory,
)

# Monday 2026-11-23 15:00 UTC = 9:00 in Chicago (CST, UTC-6): inside the 8am–9pm window.
MONDAY_9AM_CHICAGO = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):  # type: ignore[no-untyped-def]
    """Django's test setup swaps EMAIL_BACKEND for locmem; outreach tests use anymail's test backend."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"


@pytest.fixture
def frozen(time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(MONDAY_9AM_CHICAGO, tick=False)
    return time_machine


def fresh_rates(organization: Any, *, date: dt.date = dt.date(2026, 11, 20), rate: str = "6.125") -> None:
    """Map the conforming 30-year product to a series with a fresh observation (3 days old on the frozen Monday)."""
    mapping = SeriesMappingFactory(organization=organization)
    RateObservationFactory(series=mapping.series, date=date, rate=Decimal(rate))


@pytest.fixture
def opportunity(frozen, officer):  # type: ignore[no-untyped-def]
    """An opportunity of ``officer`` whose borrower consented to email and SMS, with fresh market rates."""
    opp = OpportunityFactory(
        loan=LoanFactory(loan_officer=officer, borrower__first_name="Ana", borrower__last_name="O'Neil"),
    )
    fresh_rates(opp.organization)
    return opp


def make_sequence(organization: Any, steps: list[tuple[int, str]], *, name: str = "Test plan") -> Sequence:
    sequence = Sequence.objects.create(organization=organization, name=name)
    for position, (day, channel) in enumerate(steps, start=1):
        SequenceStep.objects.create(
            sequence=sequence,
            position=position,
            day_offset=day,
            channel=channel,
            subject_template="{{ borrower_first_name }}, save {{ monthly_savings }} a month"
            if channel == "email"
            else "",
            body_template=(
                "Hi {{ borrower_first_name }}, rates are {{ todays_rate }}. Book: {{ scheduling_link }}"
                if channel == "email"
                else "Hi {{ borrower_first_name }}, {{ lo_name }} here. "
                "Save {{ monthly_savings }}/mo: {{ scheduling_link }}"
            ),
        )
    return sequence


def sendgrid_sample() -> list[dict[str, Any]]:
    """SendGrid's documented Event Webhook sample (tests/fixtures copy), without the _source note."""
    rows = json.loads((FIXTURES / "sendgrid_event_webhook_sample.json").read_text())
    return [row for row in rows if "_source" not in row]
