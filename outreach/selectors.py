"""Reads of the outreach app, scoped like everything else."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from outreach.models import Enrollment, Message, Sequence
from pipeline.models import Opportunity


def opportunity_for_borrower_page(*, opportunity_id: int) -> Opportunity | None:
    """The opportunity behind a signed borrower-page token (the token is the authorisation)."""
    return (
        Opportunity.objects.select_related("loan", "loan_officer", "organization", "borrower")
        .filter(pk=opportunity_id)
        .first()
    )


def message_for_token(*, message_id: int | None, opportunity: Opportunity) -> Message | None:
    if not message_id:
        return None
    return Message.objects.filter(pk=message_id, opportunity=opportunity).first()


def enrollments_for_opportunity(*, opportunity: Opportunity) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(opportunity=opportunity).select_related("sequence").order_by("-started_at", "-pk")


def messages_for_enrollment(*, enrollment: Enrollment) -> QuerySet[Message]:
    return Message.objects.filter(enrollment=enrollment).select_related("step").order_by("step__position", "pk")


def sequences_for_user(*, user: Any) -> QuerySet[Sequence]:
    return Sequence.objects.visible_to(user).filter(is_active=True).order_by("-is_default", "name")


def opportunities_for_preview(*, organization_id: int) -> QuerySet[Opportunity]:
    return (
        Opportunity.objects.filter(organization_id=organization_id)
        .select_related("borrower", "loan")
        .order_by("-total_interest_savings", "pk")
    )
