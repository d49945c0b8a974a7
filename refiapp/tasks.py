"""Cross-app django-q2 tasks: they only call the apps' own tasks and services."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from outreach.tasks import enroll_organization
from pipeline.tasks import match_all_organizations, match_organization
from rates.tasks import fetch_rates


def daily_refresh() -> str:
    """The daily schedule (refiapp.schedules "daily-rates-and-match"): fetch today's rates, then, on business
    days, queue one ``daily_match`` task per organization, so the cluster's workers (on any number of
    machines) share the matches and one organization's failure never blocks another. Returns a summary for
    the task log."""
    fetched = fetch_rates()
    today = timezone.now().date()
    if not is_business_day(today):
        return f"{fetched}; no match on {today:%A}"
    queued = match_all_organizations(as_of=None, task="refiapp.tasks.daily_match")
    return f"{fetched}; queued the match of {len(queued)} organization(s)"


def daily_match(organization_id: int, as_of: str | None = None) -> str:
    """One organization's daily match against today's rates, then its auto-enrollment (when it asks for it)."""
    run_id = match_organization(organization_id, as_of)
    if run_id is None:
        return f"organization {organization_id}: a match was already running; skipped"
    enrolled = enroll_organization(organization_id)
    return f"organization {organization_id}: match run {run_id}; enrolled {enrolled}"


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5
