"""Cross-app django-q2 tasks: they only call the apps' own tasks and services."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from outreach.tasks import enroll_new_opportunities
from pipeline.tasks import match_all_organizations
from rates.tasks import fetch_rates
from scoring.tasks import refresh_house_prices, score_all_organizations


def daily_refresh() -> str:
    """The daily schedule (refiapp.schedules "daily-rates-and-match"): fetch today's rates and house price
    indexes, then, on business days, match every organization against them; then score every organization's
    open opportunities (every day: engagement moves scores on weekends too) and route them where the policy
    says so, and enroll the new opportunities of organizations that auto-enroll. Returns a summary for the log."""
    fetched = fetch_rates()
    house_prices = refresh_house_prices()
    today = timezone.now().date()
    if not is_business_day(today):
        return f"{fetched}; {house_prices}; {score_all_organizations()}; no match on {today:%A}"
    runs = match_all_organizations(as_of=None)
    scored = score_all_organizations()
    enrolled = enroll_new_opportunities()
    return f"{fetched}; {house_prices}; matched {len(runs)} organization(s); {scored}; enrolled {enrolled}"


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5
