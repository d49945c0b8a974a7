"""Reads of the scoring app: "why this score" for one opportunity and the Model page of an organization."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from core.models import Organization
from core.money import usd
from pipeline.models import Opportunity
from scoring.features import FEATURES, feature_rows
from scoring.models import PropensityModel, ScoringPolicy, ScoringRun
from scoring.services.policy import policy_for

FEATURE_BY_NAME = {feature.name: feature for feature in FEATURES}
MIN_SHOWN = 0.05  # contributions smaller than this (log-odds) are not worth a line
REASONS_SHOWN = 5


@dataclass(frozen=True)
class Reason:
    text: str
    contribution: float  # log-odds against the model's average opportunity

    @property
    def marks(self) -> str:
        size = 1 if abs(self.contribution) < 0.25 else 2 if abs(self.contribution) < 0.75 else 3
        return ("+" if self.contribution > 0 else "−") * size

    @property
    def positive(self) -> bool:
        return self.contribution > 0


@dataclass
class Explanation:
    model: PropensityModel
    score: float  # now, from the same features the nightly SQL uses
    reasons: list[Reason] = field(default_factory=list)


def _words(name: str, value: float) -> str:
    feature = FEATURE_BY_NAME[name]
    unit = feature.unit
    if unit == "points":
        return f"spread {value:.2f} pts"
    if unit == "money":
        return f"{feature.label} {usd(round(value))}".replace(".00", "")
    if unit == "percent":
        return f"LTV {value:.0f} %"
    if unit == "months":
        return f"loan {value:.0f} months old"
    if unit == "score":
        return f"credit score {value:.0f}"
    if unit == "flag":
        return feature.label
    count = int(value)
    texts = {
        "opens_90d": f"opened {count} email{'s' if count != 1 else ''} in 90 days",
        "clicks_90d": f"clicked {count} link{'s' if count != 1 else ''} in 90 days",
        "replies_90d": f"replied {count} time{'s' if count != 1 else ''} in 90 days",
        "bookings_90d": f"booked {count} call{'s' if count != 1 else ''} in 90 days",
        "touches": f"{count} message{'s' if count != 1 else ''} sent so far",
    }
    return texts[name]


def score_explanation(*, opportunity: Opportunity, now: dt.datetime | None = None) -> Explanation | None:
    """The active model applied to the opportunity's features as of now, with each feature's contribution
    (weight × standardised value, i.e. against the average opportunity the model learned from) in words."""
    model = PropensityModel.objects.filter(organization_id=opportunity.organization_id, is_active=True).first()
    if model is None:
        return None
    rows = feature_rows(
        organization_id=opportunity.organization_id,
        asof=now or timezone.now(),
        population="one",
        opportunity_id=opportunity.pk,
    )
    if not rows:
        return None
    row = rows[0]
    z = model.intercept
    reasons = []
    for feature in model.features:
        raw = row[feature["name"]]
        value = feature["impute"] if raw is None else float(raw)
        contribution = feature["weight"] * (value - feature["mean"]) / feature["scale"]
        z += contribution
        shown = raw is not None and not (FEATURE_BY_NAME[feature["name"]].unit == "flag" and value == 0)
        if shown and abs(contribution) >= MIN_SHOWN:
            reasons.append(Reason(text=_words(feature["name"], value), contribution=contribution))
    reasons.sort(key=lambda reason: -abs(reason.contribution))
    score = 1 / (1 + math.exp(-max(min(z, 35.0), -35.0)))
    return Explanation(model=model, score=score, reasons=reasons[:REASONS_SHOWN])


@dataclass
class ModelPage:
    organization: Organization
    policy: ScoringPolicy
    model: PropensityModel | None
    last_run: ScoringRun | None
    coefficients: list[dict[str, Any]]
    history: list[PropensityModel]


def model_page(*, organization: Organization) -> ModelPage:
    model = PropensityModel.objects.filter(organization=organization, is_active=True).first()
    coefficients = []
    if model is not None:
        for feature in model.features:
            described = FEATURE_BY_NAME.get(feature["name"])
            coefficients.append(
                {
                    **feature,
                    "label": described.label if described else feature["name"],
                    "unit": described.unit if described else "",
                    "per_unit": feature["weight"] / feature["scale"] if feature["scale"] else 0.0,
                }
            )
        coefficients.sort(key=lambda c: -abs(c["weight"]))
    return ModelPage(
        organization=organization,
        policy=policy_for(organization=organization),
        model=model,
        last_run=ScoringRun.objects.filter(organization=organization).select_related("model").first(),
        coefficients=coefficients,
        history=list(PropensityModel.objects.filter(organization=organization).order_by("-trained_at", "-pk")[:10]),
    )
