"""The flat matching thresholds (DESIGN §3, §5): minimum spread by product type and loan-size band."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.choices import ProductType
from core.models import Organization
from pipeline.models import ThresholdRule

# Default minimum spreads in percentage points, and the extra a small loan needs.
DEFAULT_SPREADS: dict[str, Decimal] = {
    ProductType.CONFORMING: Decimal("0.625"),
    ProductType.JUMBO: Decimal("0.875"),
    ProductType.FHA: Decimal("0.500"),
    ProductType.VA: Decimal("0.500"),
    ProductType.USDA: Decimal("0.500"),
}
SMALL_LOAN_LIMIT = Decimal("150000.00")
SMALL_LOAN_EXTRA = Decimal("0.250")


@dataclass(frozen=True)
class Band:
    product_type: str
    min_balance: Decimal
    max_balance: Decimal | None
    min_spread: Decimal

    def contains(self, balance: Decimal) -> bool:
        return balance >= self.min_balance and (self.max_balance is None or balance < self.max_balance)


def default_bands() -> list[Band]:
    bands = []
    for product, spread in DEFAULT_SPREADS.items():
        bands.append(Band(product, Decimal("0.00"), SMALL_LOAN_LIMIT, spread + SMALL_LOAN_EXTRA))
        bands.append(Band(product, SMALL_LOAN_LIMIT, None, spread))
    return bands


def threshold_bands(*, organization: Organization | int) -> list[Band]:
    """The organization's bands; products it has no rule for use the defaults."""
    org_id = getattr(organization, "pk", organization)
    rules = [
        Band(r.product_type, r.min_balance, r.max_balance, r.min_spread)
        for r in ThresholdRule.objects.filter(organization_id=org_id).order_by("product_type", "min_balance")
    ]
    covered = {band.product_type for band in rules}
    return rules + [band for band in default_bands() if band.product_type not in covered]


def threshold_for(*, bands: list[Band], product_type: str, balance: Decimal) -> Decimal | None:
    """The minimum spread for one loan, or None when no band covers its balance."""
    for band in bands:
        if band.product_type == product_type and band.contains(balance):
            return band.min_spread
    return None
