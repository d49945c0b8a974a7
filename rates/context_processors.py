"""The stale-rates warning shown on every page (DESIGN §5: stale rates block new outreach)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.http import HttpRequest

from core.choices import ProductType
from core.models import Organization
from core.tenancy import profile_for
from rates.selectors import MarketRate, organization_today, stale_products


@dataclass(frozen=True)
class StaleProduct:
    product_type: str
    term_months: int
    rate: MarketRate | None
    as_of: dt.date

    @property
    def label(self) -> str:
        return f"{ProductType(self.product_type).label} {self.term_months // 12}-year"

    @property
    def age_days(self) -> int | None:
        return self.rate.age_days(self.as_of) if self.rate else None


class RateStaleness:
    """Evaluated only when a template reads it, and at most once per request (two queries)."""

    def __init__(self, organization: Organization) -> None:
        self.organization = organization
        self.as_of = organization_today(organization)

    @cached_property
    def products(self) -> list[StaleProduct]:
        return [
            StaleProduct(product, term, rate, self.as_of)
            for product, term, rate in stale_products(organization=self.organization, as_of=self.as_of)
        ]

    @property
    def newest(self) -> dt.date | None:
        dates = [p.rate.date for p in self.products if p.rate]
        return max(dates) if dates else None

    def __bool__(self) -> bool:
        return bool(self.products)


def rate_staleness(request: HttpRequest) -> dict[str, Any]:
    if not hasattr(request, "_rate_staleness"):
        profile = profile_for(getattr(request, "user", None))
        request._rate_staleness = RateStaleness(profile.organization) if profile else None  # type: ignore[attr-defined]
    return {"rate_staleness": request._rate_staleness}  # type: ignore[attr-defined]
