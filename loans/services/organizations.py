"""Onboarding: everything a new organization needs before its first match, created idempotently."""

from __future__ import annotations

from django.db import transaction

from loans.models import Organization
from loans.services.thresholds import threshold_rules_ensure_defaults
from outreach.services import sequence_ensure_default
from rates.services import rate_series_ensure_defaults, series_mappings_ensure_defaults


@transaction.atomic
def organization_ensure_defaults(*, organization: Organization) -> None:
    """Public rate series, product → series mappings, threshold bands and the default outreach sequence.

    Each step only adds what is missing, so running it again (or after a manager's edits) changes nothing.
    """
    rate_series_ensure_defaults()
    series_mappings_ensure_defaults(organization=organization)
    threshold_rules_ensure_defaults(organization=organization)
    sequence_ensure_default(organization=organization)
