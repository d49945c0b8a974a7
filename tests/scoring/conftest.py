from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal
from typing import Any

import pytest

from loans.models import Borrower, Loan
from pipeline.models import Activity, Opportunity
from scoring.services.hpi import hpi_load_shipped
from tests.factories import LoanFactory, OpportunityFactory

# Monday 2026-11-23 15:00 UTC = 9:00 in Chicago: inside the 8am–9pm window.
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"


@pytest.fixture
def frozen(time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def hpi(db):  # type: ignore[no-untyped-def]
    """The shipped FHFA history of the states the tests' loans are in (loading all 51 takes seconds)."""
    return hpi_load_shipped(states=["IL", "TX"])


def true_probability(*, clicked: bool, credit_score: int) -> float:
    """The known rule of the synthetic history: a click and a good credit score drive applications; the
    lifetime savings (what the board ranks by) play no part."""
    z = -3.2 + 3.0 * clicked + 0.025 * (credit_score - 720)
    return 1 / (1 + math.exp(-z))


def synthetic_history(officer: Any, *, count: int = 360, seed: int = 7) -> list[Opportunity]:
    """Opportunities first matched between Dec 2024 and Jul 2026: some clicked a link 5–40 days after the match,
    and each reached an application (a stage change on its timeline) per ``true_probability``, 10–60 days after
    its click (or after the match)."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 12, 1, 15, tzinfo=dt.UTC)
    span = (dt.datetime(2026, 7, 1, tzinfo=dt.UTC) - start).days
    opportunities, activities = [], []
    for index in range(count):
        matched = start + dt.timedelta(days=rng.randrange(span), hours=rng.randrange(6))
        credit = rng.randint(620, 820)
        clicked = rng.random() < 0.3
        click_at = matched + dt.timedelta(days=rng.uniform(5, 40))
        applied = rng.random() < true_probability(clicked=clicked, credit_score=credit)
        applied_at = (click_at if clicked else matched) + dt.timedelta(days=rng.uniform(10, 60))
        lifetime = Decimal(rng.randrange(5_000, 150_000))
        loan = LoanFactory(loan_officer=officer, credit_score=credit, loan_number=f"SYN{index:05d}")
        opportunity = OpportunityFactory(
            loan=loan,
            first_matched_at=matched,
            last_matched_at=matched,
            total_interest_savings=lifetime,
            monthly_savings=Decimal(rng.randrange(80, 600)),
            spread=Decimal(rng.choice(["0.750", "1.000", "1.250", "1.500"])),
        )
        common = {"organization": opportunity.organization, "opportunity": opportunity, "borrower": loan.borrower}
        if clicked and click_at < NOW:
            activities.append(Activity(kind=Activity.Kind.CLICKED, occurred_at=click_at, **common))
        if applied and applied_at < NOW:
            activities.append(
                Activity(
                    kind=Activity.Kind.STAGE_CHANGE,
                    from_stage="new",
                    to_stage="application",
                    occurred_at=applied_at,
                    **common,
                )
            )
            Opportunity.objects.filter(pk=opportunity.pk).update(stage="application", stage_changed_at=applied_at)
        opportunities.append(opportunity)
    Activity.objects.bulk_create(activities)
    return opportunities


def open_loan(officer: Any, **loan: Any) -> Loan:
    defaults: dict[str, Any] = {"loan_officer": officer}
    return LoanFactory(**{**defaults, **loan})


def borrower_of(opportunity: Opportunity) -> Borrower:
    return Borrower.objects.get(pk=opportunity.borrower_id)
