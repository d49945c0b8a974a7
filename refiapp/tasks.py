"""Cross-app django-q2 tasks: they only call the apps' own tasks and services."""

from __future__ import annotations

from outreach.tasks import enroll_organization
from pipeline.tasks import match_all_organizations, match_organization
from rates.tasks import fetch_rates
from scoring.tasks import refresh_house_prices, score_all_organizations, score_organization


def daily_refresh() -> str:
    """The daily schedule (refiapp.schedules "daily-rates-and-match"): fetch today's rates and house price
    indexes, then queue one ``daily_match`` task per organization for which today, in its own zone, is a
    business day (Monday to Friday, not a US federal holiday), so the cluster's workers (on any number of
    machines) share the matches and one organization's failure never blocks another; then score everyone
    (engagement moves scores on other days too; an organization's own task rescores it after its match).
    Returns a summary for the task log."""
    fetched = fetch_rates()
    house_prices = refresh_house_prices()
    queued = match_all_organizations(as_of=None, task="refiapp.tasks.daily_match", business_days_only=True)
    if not queued:
        scored = score_all_organizations()
        return f"{fetched}; {house_prices}; {scored}; no match: not a business day for any organization"
    return f"{fetched}; {house_prices}; queued the match of {len(queued)} organization(s)"


def daily_match(organization_id: int, as_of: str | None = None) -> str:
    """One organization's daily match against today's rates, then its scores and routing, then its
    auto-enrollment (when it asks for it)."""
    run_id = match_organization(organization_id, as_of)
    if run_id is None:
        return f"organization {organization_id}: a match was already running; skipped"
    scored, proactive = score_organization(organization_id)
    enrolled = enroll_organization(organization_id)
    return (
        f"organization {organization_id}: match run {run_id}; scored {scored}, {proactive} proactive; "
        f"enrolled {enrolled}"
    )
