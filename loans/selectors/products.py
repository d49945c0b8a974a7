"""Reads of loan products: the closing-cost rule that prices a refinance of each product and term."""

from __future__ import annotations

from decimal import Decimal

from core.choices import Amortization, term_bucket
from core.models import Organization
from loans.models import LoanProduct


def closing_cost_rules(*, organization: Organization | int) -> dict[tuple[str, int], tuple[Decimal, Decimal]]:
    """(product_type, term bucket) → (fixed fee, percent of the amount) of the organization's active fixed-rate
    product for it (lowest code first). Products without one use the organization's default rule."""
    org_id = getattr(organization, "pk", organization)
    rules: dict[tuple[str, int], tuple[Decimal, Decimal]] = {}
    products = LoanProduct.objects.filter(organization_id=org_id, is_active=True, rate_type=Amortization.FIXED)
    for product in products.order_by("code"):
        key = (product.product_type, term_bucket(product.term_months))
        rules.setdefault(key, (product.closing_cost_fixed, product.closing_cost_percent))
    return rules
