"""The rates page seen from the pipeline: per product, today's trigger and how many active loans sit above it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce

from core.choices import ProductType
from core.models import Organization
from core.money import rate as round_rate
from loans.models import Loan
from pipeline.selectors.thresholds import Band, threshold_bands
from rates.selectors import MarketRate


@dataclass(frozen=True)
class PortfolioOverlay:
    product_type: str
    term_months: int
    rate: MarketRate
    trigger: Decimal  # today's rate + the threshold of loans of $150,000 and more (the usual band)
    loans_above: int  # active loans whose note rate ≥ today's rate + their band's threshold
    active_loans: int

    @property
    def label(self) -> str:
        return f"{ProductType(self.product_type).label} {self.term_months // 12}-year"


def loans_above_trigger(
    *, loans: QuerySet[Loan], organization: Organization, rates: dict[tuple[str, int], MarketRate]
) -> list[PortfolioOverlay]:
    """Per product and term: how many ACTIVE loans sit at or above today's rate + their threshold.

    One aggregate query for every product together: a filtered COUNT per (product, term) whose filter ORs the
    product's threshold bands (loan-size ranges on the current balance, the original amount when unknown).
    """
    bands = threshold_bands(organization=organization)
    active = loans.filter(status=Loan.Status.ACTIVE).annotate(refi_balance=Coalesce("current_upb", "original_amount"))
    aggregates = {}
    keys = sorted(rates)
    for index, (product_type, term) in enumerate(keys):
        market = rates[(product_type, term)].rate
        in_product = Q(product_type=product_type) & (Q(term_months__lte=180) if term == 180 else Q(term_months__gt=180))
        above: Q | None = None
        for band in (b for b in bands if b.product_type == product_type):
            in_band = _band_q(band) & Q(note_rate__gte=round_rate(market + band.min_spread))
            above = in_band if above is None else above | in_band
        if above is not None:
            aggregates[f"above_{index}"] = Count("pk", filter=in_product & above)
        aggregates[f"active_{index}"] = Count("pk", filter=in_product)
    counts = active.aggregate(**aggregates) if aggregates else {}
    result = []
    for index, (product_type, term) in enumerate(keys):
        market_rate = rates[(product_type, term)]
        usual = [b for b in bands if b.product_type == product_type and b.max_balance is None]
        spread = usual[0].min_spread if usual else Decimal("0.000")
        result.append(
            PortfolioOverlay(
                product_type=product_type,
                term_months=term,
                rate=market_rate,
                trigger=round_rate(market_rate.rate + spread),
                loans_above=counts.get(f"above_{index}", 0),
                active_loans=counts[f"active_{index}"],
            )
        )
    return result


def _band_q(band: Band) -> Q:
    q = Q(refi_balance__gte=band.min_balance)
    if band.max_balance is not None:
        q &= Q(refi_balance__lt=band.max_balance)
    return q
