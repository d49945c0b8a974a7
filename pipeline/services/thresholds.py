"""Writes on the flat matching thresholds (ThresholdRule)."""

from __future__ import annotations

from django.db import transaction

from core.models import Organization
from pipeline.models import ThresholdRule
from pipeline.selectors.thresholds import default_bands


@transaction.atomic
def threshold_rules_ensure_defaults(*, organization: Organization) -> list[ThresholdRule]:
    """Give the organization the default bands (DESIGN §3) as editable rows, for every product type it has no
    rule for yet. Products with rules are left alone; running it again creates nothing. Returns the new rows."""
    covered = set(ThresholdRule.objects.filter(organization=organization).values_list("product_type", flat=True))
    created = []
    for band in default_bands():
        if band.product_type in covered:
            continue
        rule = ThresholdRule(
            organization=organization,
            product_type=band.product_type,
            min_balance=band.min_balance,
            max_balance=band.max_balance,
            min_spread=band.min_spread,
        )
        rule.full_clean()
        rule.save()
        created.append(rule)
    return created
