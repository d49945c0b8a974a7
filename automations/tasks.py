"""django-q2 tasks of the automations: they only fetch organizations and call services (schedules in
``refiapp/schedules.py``). Each runs hourly and acts for the organizations whose local hour has come, so "daily
at 8:00" is 8:00 where the lender is; every run is idempotent, so a repeated hour sends nothing new."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from automations.services import lock_alerts_run, reviews_run, status_updates_run
from core.models import Organization

logger = logging.getLogger(__name__)

LOCK_ALERT_HOUR = 8  # local: the borrower's alert is queued in the morning (the dispatcher keeps quiet hours)
REVIEW_HOUR = 7  # local: before the loan officers' day; the daily match has run overnight


def _organizations_at(hour: int, now: dt.datetime) -> list[Organization]:
    return [org for org in Organization.objects.order_by("pk") if now.astimezone(org.zone).hour == hour]


def lock_alerts(now: dt.datetime | None = None) -> str:
    """Hourly: the lock alerts of every organization where it is LOCK_ALERT_HOUR."""
    now = now or timezone.now()
    total = 0
    for organization in _organizations_at(LOCK_ALERT_HOUR, now):
        try:
            total += lock_alerts_run(organization=organization, now=now)
        except Exception:  # one organization's failure must not stop the others
            logger.exception("Lock alerts of %s failed", organization.slug)
    return f"{total} lock alert(s) queued"


def status_updates(now: dt.datetime | None = None) -> str:
    """Every 15 minutes: the status updates of every organization (changes are announced as they come)."""
    now = now or timezone.now()
    total = 0
    for organization in Organization.objects.order_by("pk"):
        try:
            total += status_updates_run(organization=organization, now=now)
        except Exception:
            logger.exception("Status updates of %s failed", organization.slug)
    return f"{total} status update(s) queued"


def loan_reviews(now: dt.datetime | None = None) -> str:
    """Hourly: the 18-month check of every organization where it is REVIEW_HOUR (its local date)."""
    now = now or timezone.now()
    checked = cleared = 0
    for organization in _organizations_at(REVIEW_HOUR, now):
        try:
            result = reviews_run(organization=organization, today=now.astimezone(organization.zone).date())
        except Exception:
            logger.exception("Loan reviews of %s failed", organization.slug)
            continue
        checked, cleared = checked + result.checked, cleared + result.cleared
    return f"{checked} loan(s) reviewed, {cleared} cleared"
