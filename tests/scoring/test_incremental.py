"""The nightly scoring computes only the opportunities whose inputs changed since the previous run; every test
here makes one kind of change between two runs and checks that the second run, incremental or full as it must
be, leaves every open opportunity with exactly the score a full computation gives (``scoring.features``'s own
figures through the active model, in Python)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from pipeline.models import Activity, Opportunity
from scoring.features import FEATURE_NAMES, feature_rows
from scoring.models import HousePriceIndex, PropensityModel
from scoring.services.scores import FULL_EVERY, opportunities_score
from scoring.services.training import active_model, propensity_train
from tests.factories import ActivityFactory, LoanFactory, LoanProductFactory, OpportunityFactory
from tests.scoring.conftest import NOW, synthetic_history

NEXT_NIGHT = NOW + dt.timedelta(days=1)


def model_scores(organization, asof: dt.datetime) -> dict[int, float]:  # type: ignore[no-untyped-def]
    """Every open opportunity's score as the active model computes it from the features as of ``asof``."""
    model = active_model(organization=organization)
    scores = {}
    for row in feature_rows(organization_id=organization.pk, asof=asof, population="open"):
        z = model.intercept + sum(
            f["weight"] * (((row[f["name"]] if row[f["name"]] is not None else f["impute"]) - f["mean"]) / f["scale"])
            for f in model.features
        )
        scores[row["id"]] = 1 / (1 + math.exp(-z))
    return scores


def assert_scores_are_the_models(organization, asof: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    expected = model_scores(organization, asof)
    stored = dict(Opportunity.objects.filter(pk__in=expected).values_list("pk", "score"))
    assert stored == pytest.approx(expected, abs=1e-9)


def created_days_ago(frozen, officer, **loan):  # type: ignore[no-untyped-def]
    """An open opportunity (and its loan) written two days before NOW, as a book is before tonight."""
    frozen.move_to(NOW - dt.timedelta(days=2), tick=False)
    opportunity = OpportunityFactory(loan=LoanFactory(loan_officer=officer, **loan))
    frozen.move_to(NOW, tick=False)
    return opportunity


@pytest.fixture
def book(frozen, hpi, officer):  # type: ignore[no-untyped-def]
    """Three open opportunities written two days ago, scored tonight (NOW) by a full run."""
    opportunities = [created_days_ago(frozen, officer) for _ in range(3)]
    first = opportunities_score(organization=officer.organization)
    assert first.full and first.changed == 3
    return opportunities


def next_night(frozen, organization):  # type: ignore[no-untyped-def]
    frozen.move_to(NEXT_NIGHT, tick=False)
    return opportunities_score(organization=organization)


def test_a_rerun_on_the_same_inputs_is_incremental_and_writes_nothing(book, officer):
    rerun = opportunities_score(organization=officer.organization)
    assert not rerun.full and (rerun.scored, rerun.changed) == (3, 0)
    assert rerun.inputs == officer.organization.scoring_runs.last().inputs


def test_unchanged_opportunities_are_not_computed_until_the_weekly_full_run(book, officer, frozen):
    """Proof that the incremental run restricts itself: a score altered behind its back stays until a full run."""
    Opportunity.objects.filter(pk=book[0].pk).update(score=0.5)  # no updated_at: not a change of its inputs
    run = next_night(frozen, officer.organization)
    assert not run.full
    assert Opportunity.objects.get(pk=book[0].pk).score == 0.5
    frozen.move_to(NOW + FULL_EVERY, tick=False)
    weekly = opportunities_score(organization=officer.organization)
    assert weekly.full and weekly.changed >= 1
    assert_scores_are_the_models(officer.organization, NOW + FULL_EVERY)


def test_a_new_engagement_event_is_scored_the_next_night(book, officer, frozen):
    frozen.move_to(NOW + dt.timedelta(hours=5), tick=False)
    ActivityFactory(opportunity=book[1], kind=Activity.Kind.CLICKED, occurred_at=timezone.now())
    before = Opportunity.objects.get(pk=book[1].pk).score
    run = next_night(frozen, officer.organization)
    assert not run.full and run.changed == 1
    assert Opportunity.objects.get(pk=book[1].pk).score > before
    assert_scores_are_the_models(officer.organization, NEXT_NIGHT)


def test_an_event_recorded_late_by_a_transaction_open_during_the_previous_run_is_seen(book, officer, frozen):
    """Stamped (created_at) before the previous run started, committed after it: within scores.OVERLAP."""
    click = ActivityFactory(opportunity=book[2], kind=Activity.Kind.CLICKED, occurred_at=NOW - dt.timedelta(hours=2))
    # A webhook's transaction stamped it half an hour before the previous run started and committed after it.
    Activity.objects.filter(pk=click.pk).update(created_at=NOW - dt.timedelta(minutes=30))
    run = next_night(frozen, officer.organization)
    assert not run.full and run.changed == 1
    assert_scores_are_the_models(officer.organization, NEXT_NIGHT)


def test_an_event_leaving_the_ninety_day_window_lowers_the_score(book, officer, frozen):
    frozen.move_to(NOW + dt.timedelta(hours=1), tick=False)
    ActivityFactory(opportunity=book[0], kind=Activity.Kind.CLICKED, occurred_at=NOW - dt.timedelta(days=89.5))
    assert opportunities_score(organization=officer.organization).changed == 1
    clicked = Opportunity.objects.get(pk=book[0].pk).score
    frozen.move_to(NOW + dt.timedelta(hours=3), tick=False)
    assert opportunities_score(organization=officer.organization).changed == 0
    # Tomorrow the click is older than 90 days; it was recorded before the previous run's overlap.
    run = next_night(frozen, officer.organization)
    assert not run.full and run.changed == 1
    assert Opportunity.objects.get(pk=book[0].pk).score < clicked
    assert_scores_are_the_models(officer.organization, NEXT_NIGHT)


def test_a_changed_loan_is_scored_the_next_night(book, officer, frozen):
    frozen.move_to(NOW + dt.timedelta(hours=5), tick=False)
    equity = Opportunity.objects.get(pk=book[0].pk).equity
    loan = book[0].loan
    loan.credit_score, loan.property_value = 810, Decimal("900000.00")
    loan.save()  # an import or the admin: updated_at moves
    run = next_night(frozen, officer.organization)
    assert not run.full and run.changed == 1
    assert Opportunity.objects.get(pk=book[0].pk).equity > equity
    assert_scores_are_the_models(officer.organization, NEXT_NIGHT)


def test_figures_changed_by_the_match_are_scored_the_next_night(book, officer, frozen):
    frozen.move_to(NOW + dt.timedelta(hours=5), tick=False)
    # As the match's UPDATE does: the figures and updated_at.
    Opportunity.objects.filter(pk=book[2].pk).update(
        spread=Decimal("2.000"), monthly_savings=Decimal("900.00"), updated_at=timezone.now()
    )
    run = next_night(frozen, officer.organization)
    assert not run.full and run.changed == 1
    assert_scores_are_the_models(officer.organization, NEXT_NIGHT)


def test_a_loan_age_turning_a_month_is_scored_that_night(book, officer, frozen):
    # 1,096 days old tomorrow: 36 whole months (of 30.4375 days) tomorrow, 35 tonight.
    turning = created_days_ago(frozen, officer, note_date=NEXT_NIGHT.date() - dt.timedelta(days=1096))
    frozen.move_to(NOW + dt.timedelta(hours=1), tick=False)
    assert opportunities_score(organization=officer.organization).changed == 1  # its first score
    before = Opportunity.objects.get(pk=turning.pk).score
    run = next_night(frozen, officer.organization)
    rows = feature_rows(organization_id=officer.organization_id, asof=NEXT_NIGHT, population="open")
    assert {r["id"]: r["months_since_origination"] for r in rows}[turning.pk] == 36.0
    assert not run.full and run.changed == 1
    assert Opportunity.objects.get(pk=turning.pk).score != before
    assert_scores_are_the_models(officer.organization, NEXT_NIGHT)


def test_a_new_quarter_of_the_house_price_index_rescores_everything(book, officer, frozen):
    latest = HousePriceIndex.objects.filter(state="IL").latest("quarter")
    HousePriceIndex.objects.create(
        state="IL", quarter=dt.date(2026, 7, 1), value=latest.value * Decimal("1.05"), source="fred"
    )
    run = next_night(frozen, officer.organization)
    assert run.full and run.changed == 3
    assert set(
        Opportunity.objects.filter(pk__in=[o.pk for o in book]).values_list("estimated_value_quarter", flat=True)
    ) == {dt.date(2026, 7, 1)}
    assert_scores_are_the_models(officer.organization, NEXT_NIGHT)


def test_a_retrained_model_rescores_every_opportunity(frozen, hpi, officer):
    opportunities = synthetic_history(officer)
    first = opportunities_score(organization=officer.organization)  # the prior weights
    assert first.full and active_model(organization=officer.organization).kind == PropensityModel.Kind.PRIOR
    result = propensity_train(organization=officer.organization, force=True)
    assert result.trained
    run = opportunities_score(organization=officer.organization)
    assert run.full and run.changed > 50
    rows = feature_rows(organization_id=officer.organization_id, asof=NOW, population="open")
    X = np.array([[np.nan if r[n] is None else r[n] for n in FEATURE_NAMES] for r in rows], dtype=float)
    expected = dict(zip([r["id"] for r in rows], result.estimator.predict_proba(X)[:, 1], strict=True))
    stored = dict(Opportunity.objects.filter(pk__in=expected).values_list("pk", "score"))
    assert len(stored) > 50 and len(opportunities) > len(stored) / 2
    assert stored == pytest.approx(expected, abs=1e-6)


def test_a_changed_cash_out_ltv_rescores_everything(book, officer, frozen):
    frozen.move_to(NOW + dt.timedelta(hours=5), tick=False)
    product = LoanProductFactory(organization=officer.organization, max_ltv_cash_out=Decimal("80.00"))
    assert opportunities_score(organization=officer.organization).full  # a product's cash-out LTV appeared
    rooms = dict(Opportunity.objects.filter(pk__in=[o.pk for o in book]).values_list("pk", "cash_out_room"))
    product.max_ltv_cash_out = Decimal("90.00")
    product.save()
    run = next_night(frozen, officer.organization)
    assert run.full and run.changed == 3
    for opportunity in Opportunity.objects.filter(pk__in=[o.pk for o in book]):
        assert opportunity.cash_out_room > rooms[opportunity.pk]
    assert_scores_are_the_models(officer.organization, NEXT_NIGHT)


def test_the_next_run_starts_from_the_last_run_written_not_the_latest_as_of(frozen, hpi, officer):
    """A run as of tomorrow, then one as of tonight (the rows are tonight's): tomorrow's next run must still see
    what changed since tonight, here a loan age turning a month."""
    turning = created_days_ago(frozen, officer, note_date=NEXT_NIGHT.date() - dt.timedelta(days=1096))
    frozen.move_to(NEXT_NIGHT, tick=False)
    assert opportunities_score(organization=officer.organization).full
    frozen.move_to(NOW, tick=False)
    assert opportunities_score(organization=officer.organization).full  # the previous run is as of a later time
    frozen.move_to(NEXT_NIGHT + dt.timedelta(hours=1), tick=False)
    run = opportunities_score(organization=officer.organization)
    assert not run.full and run.changed == 1
    assert Opportunity.objects.get(pk=turning.pk).score is not None
    assert_scores_are_the_models(officer.organization, NEXT_NIGHT + dt.timedelta(hours=1))
