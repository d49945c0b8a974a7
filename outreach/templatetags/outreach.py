"""``{% outreach_panel opportunity %}``: enrollment state, messages and actions for the opportunity page."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest

from outreach.models import Enrollment, Message
from outreach.selectors import enrollments_for_opportunity, messages_for_enrollment, sequences_for_user
from outreach.services.dispatch import planned_skip
from outreach.services.enrollments import RUNNING, STOP_STAGES
from pipeline.models import Opportunity

register = template.Library()


def panel_context(request: HttpRequest | None, opportunity: Opportunity) -> dict[str, Any]:
    enrollments = list(enrollments_for_opportunity(opportunity=opportunity)[:5])
    current = enrollments[0] if enrollments else None
    user = getattr(request, "user", None)
    messages = list(messages_for_enrollment(enrollment=current)) if current else []
    skips: dict[str, tuple[str, str]] = {}
    for message in messages:
        # A step the borrower has no consent (or address) for is shown as skipped, not as "Scheduled".
        message.skip_label, message.skip_reason = "", ""
        if message.status == Message.Status.SCHEDULED:
            if message.channel not in skips:
                skips[message.channel] = planned_skip(opportunity.borrower, message.channel)
            message.skip_label, message.skip_reason = skips[message.channel]
    return {
        "opportunity": opportunity,
        "enrollment": current,
        "previous": enrollments[1:],
        "messages": messages,
        "running": current is not None and current.status in RUNNING,
        "is_paused": current is not None and current.status == Enrollment.Status.PAUSED,
        "can_enroll": (current is None or current.status not in RUNNING) and opportunity.stage not in STOP_STAGES,
        "sequences": list(sequences_for_user(user=user)) if user is not None else [],
        "request": request,
    }


@register.inclusion_tag("outreach/panel.html", takes_context=True)
def outreach_panel(context: template.Context, opportunity: Opportunity, oob: bool = False) -> dict[str, Any]:
    """``oob=True``: the panel is swapped out of band by an htmx response of another part of the page (a stage
    change or Archive on the opportunity page stops the sequence, and the panel shows it at once)."""
    data = panel_context(context.get("request"), opportunity)
    data["csrf_token"] = context.get("csrf_token")
    data["oob"] = oob
    return data
