"""The event types a CRM can subscribe to, and where each comes from (docs/webhooks.md shows every payload).

Every event is a row that already exists for another reason, read once by ``webhooks_collect``:
the pipeline timeline (``pipeline.Activity``) for opportunities, messages and bookings, and the refinance audit
(``refinance.RefinanceEvent``) for refinances — that one is written for every status change, with or without an
opportunity, so the timeline's own refinance entries are not used (an event is never sent twice).
"""

from __future__ import annotations

OPPORTUNITY_CREATED = "opportunity.created"
OPPORTUNITY_STAGE_CHANGED = "opportunity.stage_changed"
MESSAGE_SENT = "message.sent"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_OPENED = "message.opened"
MESSAGE_CLICKED = "message.clicked"
MESSAGE_REPLIED = "message.replied"
BOOKING_REQUESTED = "booking.requested"
REFINANCE_INITIATED = "refinance.initiated"
REFINANCE_APPROVED = "refinance.approved"
REFINANCE_FUNDED = "refinance.funded"
REFINANCE_CANCELLED = "refinance.cancelled"
LOCK_ALERT_SENT = "lock_alert.sent"

EVENT_TYPES: tuple[str, ...] = (
    OPPORTUNITY_CREATED,
    OPPORTUNITY_STAGE_CHANGED,
    MESSAGE_SENT,
    MESSAGE_DELIVERED,
    MESSAGE_OPENED,
    MESSAGE_CLICKED,
    MESSAGE_REPLIED,
    BOOKING_REQUESTED,
    REFINANCE_INITIATED,
    REFINANCE_APPROVED,
    REFINANCE_FUNDED,
    REFINANCE_CANCELLED,
    LOCK_ALERT_SENT,
)
EVENT_CHOICES = [(event, event) for event in EVENT_TYPES]

# Timeline kind → event type. A "sent" entry of a lock-alert message is ``lock_alert.sent`` instead.
ACTIVITY_EVENTS: dict[str, str] = {
    "matched": OPPORTUNITY_CREATED,
    "stage_change": OPPORTUNITY_STAGE_CHANGED,
    "sent": MESSAGE_SENT,
    "delivered": MESSAGE_DELIVERED,
    "opened": MESSAGE_OPENED,
    "clicked": MESSAGE_CLICKED,
    "replied": MESSAGE_REPLIED,
    "booked": BOOKING_REQUESTED,
}
LOCK_ALERT_KIND = "lock_alert"  # outreach.Message.Kind.LOCK_ALERT
# RefinanceEvent.to_status → event type.
REFINANCE_EVENTS: dict[str, str] = {
    "initiated": REFINANCE_INITIATED,
    "approved": REFINANCE_APPROVED,
    "funded": REFINANCE_FUNDED,
    "cancelled": REFINANCE_CANCELLED,
}


def parse_events(value: str) -> list[str]:
    """``all`` (or blank) → [] (every event); ``a,b`` → the listed types. ValueError names an unknown one."""
    if value.strip().lower() in ("", "all"):
        return []
    wanted = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [event for event in wanted if event not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    return sorted(set(wanted), key=EVENT_TYPES.index)
