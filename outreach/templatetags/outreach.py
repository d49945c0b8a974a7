"""``{% outreach_panel opportunity %}``: enrollment state, messages and actions for the opportunity page."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest

from outreach.models import Enrollment
from outreach.selectors import enrollments_for_opportunity, messages_for_enrollment, sequences_for_user
from outreach.services.enrollments import RUNNING, STOP_STAGES
from pipeline.models import Opportunity

register = template.Library()


def panel_context(request: HttpRequest | None, opportunity: Opportunity) -> dict[str, Any]:
    enrollments = list(enrollments_for_opportunity(opportunity=opportunity)[:5])
    current = enrollments[0] if enrollments else None
    user = getattr(request, "user", None)
    return {
        "opportunity": opportunity,
        "enrollment": current,
        "previous": enrollments[1:],
        "messages": list(messages_for_enrollment(enrollment=current)) if current else [],
        "running": current is not None and current.status in RUNNING,
        "is_paused": current is not None and current.status == Enrollment.Status.PAUSED,
        "can_enroll": (current is None or current.status not in RUNNING) and opportunity.stage not in STOP_STAGES,
        "sequences": list(sequences_for_user(user=user)) if user is not None else [],
        "request": request,
    }


@register.inclusion_tag("outreach/panel.html", takes_context=True)
def outreach_panel(context: template.Context, opportunity: Opportunity) -> dict[str, Any]:
    data = panel_context(context.get("request"), opportunity)
    data["csrf_token"] = context.get("csrf_token")
    return data
