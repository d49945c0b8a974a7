"""django-q2 task functions: they only fetch ids and call services (schedules: ``SCHEDULES`` below)."""

from __future__ import annotations

import logging
from typing import Any

from loans.models import Organization
from outreach.services.dispatch import dispatch_due_messages
from outreach.services.enrollments import enrollments_create_for_new_opportunities
from outreach.services.sequences import sequences_ensure_defaults
from outreach.services.webhooks import webhook_event_process, webhook_events_process_pending

logger = logging.getLogger(__name__)

# For the project's setup_schedules command: Schedule.objects.update_or_create(name=name, defaults=...).
# Every minute; the dispatcher stops claiming after 50 s so passes never pile up (and two overlapping passes are
# still safe: claims are conditional UPDATEs).
SCHEDULES: list[dict[str, Any]] = [
    {"name": "outreach: dispatch", "func": "outreach.tasks.dispatch_outreach", "schedule_type": "I", "minutes": 1},
    {
        "name": "outreach: webhook retry",
        "func": "outreach.tasks.process_pending_webhook_events",
        "schedule_type": "I",
        "minutes": 1,
    },
    {
        "name": "outreach: auto-enroll",
        "func": "outreach.tasks.enroll_new_opportunities",
        "schedule_type": "I",
        "minutes": 15,
    },
]


def dispatch_outreach() -> dict[str, Any]:
    """One pass of the outbox dispatcher."""
    stats = dispatch_due_messages().as_dict()
    logger.info("dispatch_outreach %s", stats)
    return stats


def process_webhook_event(event_id: int) -> bool:
    """Process one stored provider callback (queued on commit by the webhook receivers)."""
    return webhook_event_process(event_id=event_id)


def process_pending_webhook_events() -> int:
    """Retry stored callbacks that were not processed yet."""
    return webhook_events_process_pending()


def enroll_new_opportunities() -> int:
    """Default sequences for every organization, then auto-enrollment where the organization asks for it."""
    sequences_ensure_defaults()
    total = 0
    for organization in Organization.objects.filter(auto_enroll=True):
        total += enrollments_create_for_new_opportunities(organization=organization)
    return total
