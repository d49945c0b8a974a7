"""The demo lender's scoring step (called by the demo seed after its match).

It routes by score (so the demo shows both halves: the sequence and a call task for the highest scores, the
monthly digest for the rest), trains on the demo's history (prior weights while that history has fewer outcomes
than the policy needs, which the Model page says), scores, routes and queues this month's digests. Rerunning it
the same day changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.models import Organization
from scoring.models import ScoringPolicy
from scoring.services.digests import digests_queue
from scoring.services.hpi import hpi_ensure_loaded
from scoring.services.policy import policy_save
from scoring.services.routing import opportunities_route
from scoring.services.scores import opportunities_score
from scoring.services.training import propensity_train

DEMO_THRESHOLD = Decimal("10.00")


@dataclass
class ScoringDemo:
    model: str
    message: str
    scored: int
    proactive: int
    enrolled: int
    digests: int

    def lines(self) -> list[str]:
        return [
            f"score model: {self.model} ({self.message})",
            f"scored {self.scored} open opportunities; routed {self.proactive} to proactive ({self.enrolled} enrolled, "
            f"a call task each); {self.digests} monthly digest(s) queued for the rest",
        ]


def demo_scoring(*, organization: Organization) -> ScoringDemo:
    hpi_ensure_loaded()
    if not ScoringPolicy.objects.filter(organization=organization).exists():
        policy_save(
            policy=ScoringPolicy(organization=organization, routing_enabled=True, proactive_threshold=DEMO_THRESHOLD)
        )
    training = propensity_train(organization=organization)
    run = opportunities_score(organization=organization)
    routing = opportunities_route(organization=organization)
    digests = digests_queue(organization=organization)
    return ScoringDemo(
        model=training.model.get_kind_display(),
        message=training.message,
        scored=run.scored,
        proactive=routing.proactive,
        enrolled=routing.enrolled,
        digests=digests.queued,
    )
