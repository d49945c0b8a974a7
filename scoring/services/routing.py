"""Proactive versus nurture (the organization's policy, nightly after scoring).

At or above the policy's threshold an opportunity that qualifies is proactive: one call task for its loan
officer on the timeline, flagged on the board, and the default sequence if it is still new or only contacted
and was never enrolled. Below it, the borrower is nurtured by the monthly digest
(``scoring.services.digests``); engagement with the digest raises the score and can make them proactive.
Each opportunity gets one call task ever, so a rerun changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.models import Organization
from outreach.services.enrollments import enrollments_create_for
from pipeline.models import Activity, Opportunity
from scoring.services.policy import policy_for

# Not yet talking to the loan officer: these get the sequence when proactive (and the digest when not).
ROUTED_STAGES = (Opportunity.Stage.NEW, Opportunity.Stage.CONTACTED)
# A borrower who engaged (e.g. clicked in a digest) and now scores high also gets a call task.
CALL_STAGES = (*ROUTED_STAGES, Opportunity.Stage.ENGAGED)
CHUNK = 1000


@dataclass
class RoutingResult:
    proactive: int = 0
    enrolled: int = 0


def proactive_candidates(*, organization: Organization, threshold: float):  # type: ignore[no-untyped-def]
    """Opportunities at or above the threshold that have no call task yet."""
    tasked = Exists(Activity.objects.filter(opportunity=OuterRef("pk"), kind=Activity.Kind.CALL_TASK))
    return (
        Opportunity.objects.filter(
            organization=organization, stage__in=CALL_STAGES, qualifies=True, score__gte=threshold
        )
        .exclude(tasked)
        .order_by("-score", "pk")
    )


def opportunities_route(*, organization: Organization, now: dt.datetime | None = None) -> RoutingResult:
    policy = policy_for(organization=organization)
    if not policy.routing_enabled:
        return RoutingResult()
    now = now or timezone.now()
    threshold = policy.threshold_probability
    rows = list(
        proactive_candidates(organization=organization, threshold=threshold).values_list("pk", "borrower_id", "score")
    )
    result = RoutingResult(proactive=len(rows))
    if not rows:
        return result
    ids = [pk for pk, _, _ in rows]
    result.enrolled = enrollments_create_for(
        organization=organization, opportunities=Opportunity.objects.filter(pk__in=ids)
    )
    attention = f"Call first: scored at or above {float(policy.proactive_threshold):g} %"
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        with transaction.atomic():
            Activity.objects.bulk_create(
                [
                    Activity(
                        organization_id=organization.pk,
                        opportunity_id=pk,
                        borrower_id=borrower_id,
                        kind=Activity.Kind.CALL_TASK,
                        body=(
                            f"Call this borrower: {score:.0%} chance of an application within 90 days "
                            f"(the policy calls from {float(policy.proactive_threshold):g} %)."
                        ),
                        data={"score": score, "threshold": float(policy.proactive_threshold)},
                        occurred_at=now,
                    )
                    for pk, borrower_id, score in chunk
                ]
            )
            Opportunity.objects.filter(pk__in=[pk for pk, _, _ in chunk]).update(
                attention_reason=attention, attention_at=now, updated_at=now
            )
    return result
