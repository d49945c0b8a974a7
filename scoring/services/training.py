"""Training an organization's propensity model on its own outcomes (weekly, or ``manage.py train_propensity``).

The training set is point in time: on the first day of each month (up to 24 months, only months whose 90
days are over), every opportunity that had been matched and had neither reached an application nor closed is
one row, with its features as of that day (``scoring.features``, the same SQL as the nightly scoring) and the
label "reached an application within the next 90 days". The money figures of a row are its opportunity's
latest match figures (the match keeps them current while it is open); engagement, loan age and the house
price index are as of the row's day.

The model is a logistic regression on standardised features (missing values filled with the training mean),
calibrated with Platt scaling on out-of-fold predictions of the training part, and validated on the latest
20 % of rows by time (never a random split). Its composite coefficients are what the nightly SQL applies.
Before an organization has ``min_training_rows`` outcomes with ``min_training_applications`` applications,
the documented prior weights (``scoring.priors``) are used.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.models import Organization
from pipeline.models import Opportunity
from scoring.features import ENGAGEMENT_WINDOW, FEATURE_NAMES, feature_rows
from scoring.models import PropensityModel
from scoring.priors import PRIOR_INTERCEPT, PRIOR_WEIGHTS
from scoring.services.policy import policy_for

logger = logging.getLogger(__name__)

MAX_SNAPSHOTS = 24
HOLDOUT_SHARE = 0.2
TOP_SHARE = 0.2
LAST_QUARTER = dt.timedelta(days=92)


class TrainingError(ValueError):
    """The history cannot be split or fitted (said in words; the current model stays)."""


@dataclass
class TrainingSet:
    X: np.ndarray
    y: np.ndarray
    snapshot: np.ndarray  # datetime64[D] of each row's day
    opportunity: np.ndarray
    lifetime: np.ndarray  # lifetime interest savings: the ranking the board uses

    @property
    def rows(self) -> int:
        return len(self.y)

    @property
    def positives(self) -> int:
        return int(self.y.sum())

    @property
    def applications(self) -> int:
        return len(set(self.opportunity[self.y == 1].tolist()))

    def subset(self, mask: np.ndarray) -> TrainingSet:
        return TrainingSet(self.X[mask], self.y[mask], self.snapshot[mask], self.opportunity[mask], self.lifetime[mask])


@dataclass
class TrainingResult:
    model: PropensityModel
    trained: bool  # a new fitted model is active
    skipped: bool = False  # already built in this period
    estimator: Any = None  # the fitted scikit-learn estimator (tests compare the SQL scores with it)
    message: str = ""


def snapshot_dates(*, first_matched: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """First days of the months after ``first_matched`` whose 90-day outcome window has ended by ``now``."""
    last = now - ENGAGEMENT_WINDOW
    day = first_matched.astimezone(dt.UTC).date().replace(day=1)
    dates = []
    while True:
        day = (day + dt.timedelta(days=32)).replace(day=1)
        moment = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)
        if moment > last:
            break
        dates.append(moment)
    return dates[-MAX_SNAPSHOTS:]


def training_set(*, organization: Organization, now: dt.datetime) -> TrainingSet:
    first = Opportunity.objects.filter(organization=organization).aggregate(first=Min("first_matched_at"))["first"]
    rows: list[dict[str, Any]] = []
    days: list[dt.date] = []
    for moment in snapshot_dates(first_matched=first, now=now) if first else []:
        batch = feature_rows(organization_id=organization.pk, asof=moment, population="snapshot")
        rows.extend(batch)
        days.extend([moment.date()] * len(batch))
    X = np.array([[_float(row[name]) for name in FEATURE_NAMES] for row in rows], dtype=float).reshape(
        len(rows), len(FEATURE_NAMES)
    )
    return TrainingSet(
        X=X,
        y=np.array([int(row["label"]) for row in rows], dtype=int),
        snapshot=np.array(days, dtype="datetime64[D]"),
        opportunity=np.array([row["id"] for row in rows], dtype=int),
        lifetime=np.array([_float(row["lifetime_savings"]) for row in rows], dtype=float),
    )


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _week_start(organization: Organization, now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now, organization_zone(organization))
    return (local - dt.timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def organization_zone(organization: Organization) -> dt.tzinfo:
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(organization.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def active_model(*, organization: Organization) -> PropensityModel | None:
    return PropensityModel.objects.filter(organization=organization, is_active=True).first()


@transaction.atomic
def _activate(model: PropensityModel) -> PropensityModel:
    PropensityModel.objects.filter(organization_id=model.organization_id, is_active=True).update(is_active=False)
    model.is_active = True
    model.full_clean(exclude=["organization"])
    model.save()
    return model


def prior_model(
    *, organization: Organization, now: dt.datetime, data: TrainingSet | None, note: str
) -> PropensityModel:
    features = [
        {"name": name, "impute": ref, "mean": ref, "scale": unit, "weight": weight}
        for name, (ref, unit, weight) in ((n, PRIOR_WEIGHTS[n]) for n in FEATURE_NAMES)
    ]
    return PropensityModel(
        organization=organization,
        kind=PropensityModel.Kind.PRIOR,
        trained_at=now,
        features=features,
        intercept=PRIOR_INTERCEPT,
        training_rows=data.rows if data else 0,
        training_positives=data.positives if data else 0,
        training_applications=data.applications if data else 0,
        note=note,
    )


def model_ensure(*, organization: Organization, now: dt.datetime | None = None) -> PropensityModel:
    """The active model, or (first time) the prior weights made active."""
    current = active_model(organization=organization)
    if current is not None:
        return current
    policy = policy_for(organization=organization)
    note = (
        "Not trained yet: the weekly training learns from this organization's outcomes once it has "
        f"{policy.min_training_rows} of them with {policy.min_training_applications} applications."
    )
    return _activate(prior_model(organization=organization, now=now or timezone.now(), data=None, note=note))


def propensity_train(
    *, organization: Organization, now: dt.datetime | None = None, force: bool = False
) -> TrainingResult:
    """Train (or fall back to the prior weights) once per week; ``force`` retrains within the week."""
    now = now or timezone.now()
    current = active_model(organization=organization)
    if current is not None and not force and current.trained_at >= _week_start(organization, now):
        return TrainingResult(
            model=current,
            trained=False,
            skipped=True,
            message=f"Already built this week ({current.trained_at:%Y-%m-%d %H:%M}); --force retrains.",
        )
    policy = policy_for(organization=organization)
    data = training_set(organization=organization, now=now)
    if data.rows < policy.min_training_rows or data.applications < policy.min_training_applications:
        note = (
            f"Prior weights: {data.rows} of {policy.min_training_rows} outcomes and {data.applications} of "
            f"{policy.min_training_applications} applications needed to learn from this organization's history."
        )
        if current is not None and current.kind == PropensityModel.Kind.TRAINED:
            return TrainingResult(model=current, trained=False, message=f"{note} The trained model stays.")
        model = _activate(prior_model(organization=organization, now=now, data=data, note=note))
        return TrainingResult(model=model, trained=False, message=note)
    try:
        model, estimator = fit_model(organization=organization, data=data, now=now)
    except TrainingError as exc:
        if current is None:
            _activate(prior_model(organization=organization, now=now, data=data, note=f"Prior weights: {exc}"))
        return TrainingResult(model=model_ensure(organization=organization, now=now), trained=False, message=str(exc))
    _activate(model)
    return TrainingResult(model=model, trained=True, estimator=estimator, message="Trained.")


def fit_model(*, organization: Organization, data: TrainingSet, now: dt.datetime) -> tuple[PropensityModel, Any]:
    """Fit on the earliest 80 % (by time), calibrate, validate on the latest 20 %. Not saved."""
    order = np.argsort(data.snapshot, kind="stable")
    cut_day = data.snapshot[order[int(len(order) * (1 - HOLDOUT_SHARE))]] if len(order) else None
    if cut_day is None or cut_day <= data.snapshot.min():
        raise TrainingError("the history spans a single month: nothing to validate on")
    train, holdout = data.subset(data.snapshot < cut_day), data.subset(data.snapshot >= cut_day)
    for part, name in ((train, "earlier 80 %"), (holdout, "latest 20 %")):
        if part.positives == 0 or part.positives == part.rows:
            raise TrainingError(f"the {name} of the history has no {'application' if not part.positives else 'miss'}")
    folds = min(5, train.positives, train.rows - train.positives)
    if folds < 2:
        raise TrainingError("fewer than two applications in the training part: cannot calibrate")
    pipeline = make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=5000),
    )
    estimator = CalibratedClassifierCV(
        pipeline, method="sigmoid", cv=StratifiedKFold(n_splits=folds), ensemble=False
    ).fit(train.X, train.y)
    fitted = estimator.calibrated_classifiers_[0]
    imputer, scaler, regression = (step for _name, step in fitted.estimator.steps)
    a, b = float(fitted.calibrators[0].a_), float(fitted.calibrators[0].b_)
    # Platt: p = 1 / (1 + exp(a·d + b)) with d = intercept + coef·z, so the composite logit is −a·d − b.
    features = [
        {
            "name": name,
            "impute": float(imputer.statistics_[j]),
            "mean": float(scaler.mean_[j]),
            "scale": float(scaler.scale_[j]),
            "weight": float(-a * regression.coef_[0][j]),
        }
        for j, name in enumerate(FEATURE_NAMES)
    ]
    predicted = estimator.predict_proba(holdout.X)[:, 1]
    model = PropensityModel(
        organization=organization,
        kind=PropensityModel.Kind.TRAINED,
        trained_at=now,
        features=features,
        intercept=float(-(a * regression.intercept_[0] + b)),
        training_rows=data.rows,
        training_positives=data.positives,
        training_applications=data.applications,
        holdout_rows=holdout.rows,
        holdout_positives=holdout.positives,
        holdout_from=_day(holdout.snapshot.min()),
        holdout_to=_day(holdout.snapshot.max()),
        holdout_auc=float(roc_auc_score(holdout.y, predicted)),
        savings_auc=float(roc_auc_score(holdout.y, holdout.lifetime)),
        calibration=calibration_table(predicted, holdout.y),
        comparison=savings_comparison(holdout, predicted),
        note=(
            f"Trained on {train.rows} rows ({train.positives} reached an application), validated on the "
            f"{holdout.rows} rows from {_day(holdout.snapshot.min())} on."
        ),
    )
    return model, estimator


def _day(value: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(value))


def calibration_table(predicted: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    """Equal-count bins of the holdout by predicted score: mean predicted vs observed rate."""
    order = np.argsort(predicted, kind="stable")
    bins = max(1, min(10, len(order) // 20))
    table = []
    for part in np.array_split(order, bins):
        if not len(part):
            continue
        table.append(
            {
                "rows": len(part),
                "low": float(predicted[part].min()),
                "high": float(predicted[part].max()),
                "predicted": float(predicted[part].mean()),
                "observed": float(y[part].mean()),
            }
        )
    return table


def _top_hits(score: np.ndarray, y: np.ndarray) -> int:
    top = max(1, math.ceil(len(score) * TOP_SHARE))
    return int(y[np.argsort(-score, kind="stable")[:top]].sum())


def savings_comparison(holdout: TrainingSet, predicted: np.ndarray) -> dict[str, Any]:
    """Of the last quarter's applications (holdout rows of the last three months, each opportunity once, at its
    latest row), how many the top 20 % by score held, and how many the top 20 % by lifetime savings held."""
    recent = holdout.snapshot > holdout.snapshot.max() - np.timedelta64(LAST_QUARTER.days, "D")
    latest: dict[int, int] = {}
    for index in np.flatnonzero(recent)[np.argsort(holdout.snapshot[recent], kind="stable")]:
        latest[int(holdout.opportunity[index])] = int(index)
    keep = np.array(sorted(latest.values()), dtype=int)
    y, score, savings = holdout.y[keep], predicted[keep], holdout.lifetime[keep]
    return {
        "from": str(holdout.snapshot[keep].min()) if len(keep) else None,
        "to": str(holdout.snapshot[keep].max()) if len(keep) else None,
        "opportunities": len(keep),
        "applications": int(y.sum()),
        "top_share": TOP_SHARE,
        "model_top": _top_hits(score, y) if len(keep) else 0,
        "savings_top": _top_hits(savings, y) if len(keep) else 0,
    }
