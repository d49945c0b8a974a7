"""django-q2 task functions: they only fetch ids and call services (scheduled in refiapp/schedules.py)."""

from __future__ import annotations

import logging
from typing import Any

from core.models import Organization
from outreach.services.dispatch import dispatch_due_messages
from outreach.services.enrollments import enrollments_create_for_new_opportunities
from outreach.services.sequences import sequences_ensure_defaults
from outreach.services.webhooks import webhook_event_process, webhook_events_process_pending

logger = logging.getLogger(__name__)


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


def enroll_organization(organization_id: int) -> int:
    """Auto-enroll one organization's new opportunities (right after its daily match)."""
    organization = Organization.objects.get(pk=organization_id)
    return enrollments_create_for_new_opportunities(organization=organization)
