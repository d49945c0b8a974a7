from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from pipeline.models import Opportunity
from scoring.features import FEATURE_NAMES, feature_rows
from scoring.models import PropensityModel, ScoringPolicy
from scoring.priors import PRIOR_INTERCEPT, PRIOR_WEIGHTS
from scoring.services.scores import opportunities_score
from scoring.services.training import model_ensure, propensity_train, snapshot_dates, training_set
from tests.factories import ActivityFactory, LoanFactory, OpportunityFactory
from tests.scoring.conftest import NOW, synthetic_history


def test_snapshots_are_month_starts_whose_ninety_days_are_over():
    dates = snapshot_dates(first_matched=dt.datetime(2026, 3, 14, tzinfo=dt.UTC), now=NOW)
    assert [d.date().isoformat() for d in dates] == [
        "2026-04-01",
        "2026-05-01",
        "2026-06-01",
        "2026-07-01",
        "2026-08-01",
    ]


def test_without_enough_outcomes_the_documented_prior_weights_score(frozen, hpi, officer):
    opportunity = OpportunityFactory(
        loan=LoanFactory(loan_officer=officer), first_matched_at=NOW - dt.timedelta(days=200)
    )
    result = propensity_train(organization=officer.organization)
    model = result.model
    assert not result.trained and model.kind == PropensityModel.Kind.PRIOR and model.is_active
    assert (
        "0 of 200 outcomes" not in model.note and "of 200 outcomes" in model.note and "of 20 applications" in model.note
    )
    assert model.intercept == pytest.approx(PRIOR_INTERCEPT)
    assert {f["name"]: f["weight"] for f in model.features} == {n: w for n, (_r, _u, w) in PRIOR_WEIGHTS.items()}
    opportunities_score(organization=officer.organization)
    opportunity.refresh_from_db()
    row = feature_rows(organization_id=officer.organization_id, asof=NOW, population="open")[0]
    z = model.intercept + sum(
        f["weight"] * (((row[f["name"]] if row[f["name"]] is not None else f["impute"]) - f["mean"]) / f["scale"])
        for f in model.features
    )
    assert opportunity.score == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-9)


def test_engagement_raises_the_prior_score(frozen, hpi, officer):
    quiet = OpportunityFactory(loan=LoanFactory(loan_officer=officer))
    engaged = OpportunityFactory(loan=LoanFactory(loan_officer=officer))
    ActivityFactory(opportunity=engaged, kind="opened", occurred_at=NOW - dt.timedelta(days=3))
    ActivityFactory(opportunity=engaged, kind="clicked", occurred_at=NOW - dt.timedelta(days=3))
    ActivityFactory(opportunity=engaged, kind="clicked", occurred_at=NOW - dt.timedelta(days=120))  # too old
    opportunities_score(organization=officer.organization)
    quiet.refresh_from_db(), engaged.refresh_from_db()
    assert engaged.score > quiet.score
    row = {r["id"]: r for r in feature_rows(organization_id=officer.organization_id, asof=NOW, population="open")}
    assert (row[engaged.pk]["opens_90d"], row[engaged.pk]["clicks_90d"]) == (1.0, 1.0)


def test_rerunning_the_scoring_changes_nothing(frozen, hpi, officer):
    OpportunityFactory(loan=LoanFactory(loan_officer=officer))
    first = opportunities_score(organization=officer.organization)
    second = opportunities_score(organization=officer.organization)
    assert (first.scored, first.changed) == (1, 1) and (second.scored, second.changed) == (1, 0)


@pytest.fixture
def history(frozen, hpi, officer):  # type: ignore[no-untyped-def]
    return synthetic_history(officer)


def test_training_set_is_point_in_time(history, officer):
    data = training_set(organization=officer.organization, now=NOW)
    clicked = data.X[:, FEATURE_NAMES.index("clicks_90d")]
    assert data.rows > 1000 and 20 <= data.applications
    # Every row's day is a month start before NOW − 90 days; a click counts only on days after it happened.
    assert data.snapshot.max() <= np.datetime64("2026-08-24")
    assert set(clicked.tolist()) <= {0.0, 1.0}
    first_rows = {}
    for index in np.argsort(data.snapshot, kind="stable"):
        first_rows.setdefault(int(data.opportunity[index]), index)
    assert sum(clicked[i] for i in first_rows.values()) < clicked.sum()  # clicks appear later, not at the start


def test_training_learns_the_known_rule_and_beats_ranking_by_savings(history, officer):
    result = propensity_train(organization=officer.organization)
    model = result.model
    assert result.trained and model.kind == PropensityModel.Kind.TRAINED and model.is_active
    assert PropensityModel.objects.filter(organization=officer.organization, is_active=True).count() == 1
    weights = {f["name"]: f["weight"] for f in model.features}
    assert weights["clicks_90d"] > 0 and weights["credit_score"] > 0
    assert abs(weights["lifetime_savings"]) < weights["clicks_90d"] / 3
    # Validated on the latest 20 % by time, not a random split.
    assert model.holdout_from >= dt.date(2026, 3, 1) and model.holdout_to <= dt.date(2026, 8, 24)
    assert model.holdout_auc > 0.75 > model.savings_auc
    comparison = model.comparison
    assert comparison["applications"] > 0
    assert comparison["model_top"] > comparison["savings_top"]
    assert sum(row["rows"] for row in model.calibration) == model.holdout_rows


def test_nightly_sql_score_equals_the_models_own_predictions(history, officer):
    result = propensity_train(organization=officer.organization)
    opportunities_score(organization=officer.organization)
    rows = feature_rows(organization_id=officer.organization_id, asof=NOW, population="open")
    X = np.array([[np.nan if r[n] is None else r[n] for n in FEATURE_NAMES] for r in rows], dtype=float)
    expected = result.estimator.predict_proba(X)[:, 1]
    stored = dict(Opportunity.objects.filter(pk__in=[r["id"] for r in rows]).values_list("pk", "score"))
    assert len(rows) > 50
    for row, probability in zip(rows, expected, strict=True):
        assert stored[row["id"]] == pytest.approx(probability, abs=1e-6)


def test_training_is_idempotent_within_the_week_and_force_retrains(history, officer):
    first = propensity_train(organization=officer.organization)
    again = propensity_train(organization=officer.organization)
    assert again.skipped and again.model.pk == first.model.pk
    forced = propensity_train(organization=officer.organization, force=True)
    assert forced.trained and forced.model.pk != first.model.pk
    assert PropensityModel.objects.filter(organization=officer.organization).count() == 2


def test_the_organization_setting_decides_when_there_is_enough(history, officer):
    ScoringPolicy.objects.create(organization=officer.organization, min_training_rows=100_000)
    result = propensity_train(organization=officer.organization)
    assert not result.trained and result.model.kind == PropensityModel.Kind.PRIOR
    assert "of 100000 outcomes" in result.model.note


def test_a_trained_model_is_not_replaced_by_priors(history, officer):
    propensity_train(organization=officer.organization)
    ScoringPolicy.objects.create(organization=officer.organization, min_training_rows=100_000)
    result = propensity_train(organization=officer.organization, force=True)
    assert result.model.kind == PropensityModel.Kind.TRAINED and "stays" in result.message


def test_model_ensure_makes_the_priors_active_once(db, officer):
    first = model_ensure(organization=officer.organization)
    assert model_ensure(organization=officer.organization).pk == first.pk
