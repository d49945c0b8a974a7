"""python manage.py run_automations --org SLUG [--only lock-alerts|status-updates|18-month|campaigns|webhooks]

Runs now, for one organization, what the schedules run (``refiapp/schedules.py``): the rate-lock alerts, the
application status updates, the 18-month review, the campaigns whose queueing was interrupted and the CRM
webhooks. Every part is idempotent: a second run queues and sends nothing new. Messages are queued in the
outbox; the dispatcher (``dispatch_outreach`` or the worker) sends them within its next pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from automations.services import lock_alerts_run, reviews_run, status_updates_run
from campaigns.services import campaigns_run
from core.formatting import date_text
from core.models import Organization
from webhooks.services import webhooks_collect, webhooks_deliver


def _lock_alerts(organization: Organization) -> str:
    return f"{lock_alerts_run(organization=organization, now=timezone.now())} lock alert(s) queued"


def _status_updates(organization: Organization) -> str:
    return f"{status_updates_run(organization=organization, now=timezone.now())} status update(s) queued"


def _reviews(organization: Organization) -> str:
    result = reviews_run(organization=organization)
    return (
        f"{result.checked} loan(s) reviewed on {date_text(result.as_of)}: {result.cleared} cleared the threshold "
        f"({result.flagged} flagged for a call, {result.opportunities_created} new opportunities), "
        f"{result.not_cleared} recorded with their spread"
    )


def _campaigns(organization: Organization) -> str:
    return f"{campaigns_run(organization=organization, now=timezone.now())} campaign email(s) queued"


def _webhooks(organization: Organization) -> str:
    queued = webhooks_collect(organization=organization)
    stats = webhooks_deliver(organization=organization)
    return f"{queued} webhook delivery(ies) queued; {stats}"


PARTS: dict[str, tuple[str, Callable[[Organization], str]]] = {
    "lock-alerts": ("Rate-lock alerts", _lock_alerts),
    "status-updates": ("Status updates", _status_updates),
    "18-month": ("18-month review", _reviews),
    "campaigns": ("Campaigns", _campaigns),
    "webhooks": ("Webhooks", _webhooks),
}


class Command(BaseCommand):
    help = "Run the automations of one organization now (what the schedules run); idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="The organization's slug")
        parser.add_argument("--only", choices=sorted(PARTS), help="Run one automation only")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        names = [options["only"]] if options["only"] else list(PARTS)
        for name in names:
            label, run = PARTS[name]
            self.stdout.write(f"{label}: {run(organization)}")
