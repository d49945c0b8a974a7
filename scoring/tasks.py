"""django-q2 task functions of scoring: they only fetch ids and call services (STYLE §10)."""

from __future__ import annotations

import logging

from core.models import Organization
from scoring.models import ScoringPolicy
from scoring.services.digests import digests_queue
from scoring.services.hpi import hpi_ensure_loaded, hpi_fetch_fred
from scoring.services.routing import opportunities_route
from scoring.services.scores import opportunities_score
from scoring.services.training import propensity_train

logger = logging.getLogger(__name__)


def refresh_house_prices() -> str:
    """With the daily rate fetch: the shipped FHFA history if missing, then FRED's <ST>STHPI when a key is set."""
    loaded = hpi_ensure_loaded()
    fetched = hpi_fetch_fred()
    return f"HPI: {'shipped history loaded; ' if loaded else ''}{len(fetched)} state series fetched"


def score_organization(organization_id: int) -> tuple[int, int]:
    """Score one organization's open opportunities, then route them where its policy says so (after its match)."""
    organization = Organization.objects.get(pk=organization_id)
    run = opportunities_score(organization=organization)
    routing = opportunities_route(organization=organization)
    return run.scored, routing.proactive


def score_all_organizations() -> str:
    """Every organization, one at a time (days without a match: engagement still moves scores)."""
    scored = routed = 0
    for organization_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        try:
            one, proactive = score_organization(organization_id)
        except Exception:
            logger.exception("scoring failed for organization %s", organization_id)
            continue
        scored += one
        routed += proactive
    return f"scored {scored}; routed {routed} to proactive"


def train_all_organizations() -> str:
    """Weekly (refiapp.schedules "weekly-propensity-training"): retrain every organization, then rescore."""
    trained = 0
    for organization in Organization.objects.order_by("pk"):
        try:
            result = propensity_train(organization=organization)
            if not result.skipped:
                opportunities_score(organization=organization)
        except Exception:
            logger.exception("training failed for organization %s", organization.pk)
            continue
        trained += int(result.trained)
    return f"trained {trained} model(s)"


def send_monthly_digests() -> str:
    """Monthly (refiapp.schedules "monthly-borrower-digest"): queue the digests of organizations that route."""
    queued = 0
    for policy in ScoringPolicy.objects.filter(routing_enabled=True).select_related("organization"):
        try:
            queued += digests_queue(organization=policy.organization).queued
        except Exception:
            logger.exception("digests failed for organization %s", policy.organization_id)
    return f"queued {queued} digest(s)"
