"""Cross-app django-q2 tasks: they only call the apps' own tasks and services."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from outreach.tasks import enroll_new_opportunities
from pipeline.tasks import match_all_organizations
from rates.tasks import fetch_rates


def daily_refresh() -> str:
    """The daily schedule (refiapp.schedules "daily-rates-and-match"): fetch today's rates, then, on business
    days, match every organization against them and enroll the new opportunities of organizations that
    auto-enroll. Returns a summary for the task log."""
    fetched = fetch_rates()
    today = timezone.now().date()
    if not is_business_day(today):
        return f"{fetched}; no match on {today:%A}"
    runs = match_all_organizations(as_of=None)
    enrolled = enroll_new_opportunities()
    return f"{fetched}; matched {len(runs)} organization(s); enrolled {enrolled}"


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5
