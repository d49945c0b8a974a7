"""The organization's scoring policy (routing, threshold, training minimums)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from core.models import Organization
from scoring.models import ScoringPolicy


def policy_for(*, organization: Organization) -> ScoringPolicy:
    """The organization's policy; the defaults (routing off, 20 %, 200 outcomes / 20 applications) until saved."""
    return ScoringPolicy.objects.filter(organization=organization).first() or ScoringPolicy(organization=organization)


def policy_check(*, policy: ScoringPolicy) -> None:
    """One policy per organization; routing decides who gets the sequence, so it cannot run beside auto-enroll
    (which enrolls everyone)."""
    if policy.pk is None and ScoringPolicy.objects.filter(organization_id=policy.organization_id).exists():
        raise ValidationError("This organization already has a scoring policy: edit that one.")
    if policy.routing_enabled and policy.organization.auto_enroll:
        raise ValidationError(
            {"routing_enabled": "Turn off the organization's auto-enroll first: routing decides who gets the sequence."}
        )


def policy_save(*, policy: ScoringPolicy) -> ScoringPolicy:
    policy.full_clean(exclude=["organization"])
    policy_check(policy=policy)
    policy.save()
    return policy
