"""django-q2 tasks of the reports app. They only fetch ids and call services."""

from __future__ import annotations

import logging

from django.utils import timezone

from core.models import Organization
from reports.periods import due_week_start
from reports.services import weekly_report_send

logger = logging.getLogger(__name__)


def send_due_weekly_reports() -> int:
    """Send the weekly report of every organization whose local time is past Monday 08:00 and not yet sent.

    Scheduled hourly as "weekly-reports" (refiapp/schedules.py). A second run in the same hour, a run on a second
    worker or a late run sends nothing twice (each send is claimed in ``WeeklyReportSend`` first). Returns the
    number of emails sent.
    """
    now = timezone.now()
    sent = 0
    for organization in Organization.objects.order_by("pk"):
        try:
            week_start = due_week_start(timezone=organization.timezone, now=now)
        except (ValueError, LookupError):
            logger.error("Organization %s has an unknown timezone %r", organization.slug, organization.timezone)
            continue
        if week_start is None:
            continue
        outcomes = weekly_report_send(organization=organization, week_start=week_start)
        sent += sum(1 for outcome in outcomes if outcome.status == "sent")
    return sent
