"""Cross-app django-q2 tasks: they only call the apps' own tasks and services."""

from __future__ import annotations

from outreach.tasks import enroll_new_opportunities
from pipeline.tasks import match_all_organizations
from rates.tasks import fetch_rates


def daily_refresh() -> str:
    """The daily schedule (refiapp.schedules "daily-rates-and-match"): fetch today's rates, then match every
    organization for which today, in its own zone, is a business day (Monday to Friday, not a US federal
    holiday), and enroll the new opportunities of organizations that auto-enroll. Returns a summary for the
    task log."""
    fetched = fetch_rates()
    runs = match_all_organizations(as_of=None, business_days_only=True)
    if not runs:
        return f"{fetched}; no match: not a business day for any organization, or nothing to match"
    enrolled = enroll_new_opportunities()
    return f"{fetched}; matched {len(runs)} organization(s); enrolled {enrolled}"
