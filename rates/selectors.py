"""Reads of market rates: the rate that prices each product today, and whether it is stale."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from loans.models import Organization
from rates.models import RateObservation, SeriesMapping


@dataclass(frozen=True)
class MarketRate:
    series_id: int
    series_code: str
    date: dt.date
    rate: Decimal
    is_fallback: bool

    def age_days(self, as_of: dt.date) -> int:
        return (as_of - self.date).days


def latest_observation(*, series_id: int, as_of: dt.date) -> RateObservation | None:
    """The newest observation on or before ``as_of`` (index rates_obs_latest_idx)."""
    return RateObservation.objects.filter(series_id=series_id, date__lte=as_of).order_by("-date").first()


def market_rates(*, organization: Organization | int, as_of: dt.date) -> dict[tuple[str, int], MarketRate]:
    """For each (product_type, term bucket) the organization maps: the latest rate of its series, or of
    the fallback series when the main one has no observation yet. Products without any rate are absent."""
    org_id = getattr(organization, "pk", organization)
    result: dict[tuple[str, int], MarketRate] = {}
    cache: dict[int, RateObservation | None] = {}

    def latest(series_id: int) -> RateObservation | None:
        if series_id not in cache:
            cache[series_id] = latest_observation(series_id=series_id, as_of=as_of)
        return cache[series_id]

    mappings = SeriesMapping.objects.filter(organization_id=org_id).select_related("series", "fallback_series")
    for mapping in mappings:
        obs, series, fallback = latest(mapping.series_id), mapping.series, False
        if obs is None and mapping.fallback_series_id:
            obs, series, fallback = latest(mapping.fallback_series_id), mapping.fallback_series, True
        if obs is not None:
            result[(mapping.product_type, mapping.term_months)] = MarketRate(
                series_id=series.pk, series_code=series.code, date=obs.date, rate=obs.rate, is_fallback=fallback
            )
    return result


def is_stale(rate: MarketRate | None, *, organization: Organization, as_of: dt.date) -> bool:
    """A missing rate, or one older than the organization's staleness limit, blocks new outreach."""
    return rate is None or rate.age_days(as_of) > organization.staleness_days


def stale_products(*, organization: Organization, as_of: dt.date) -> list[tuple[str, int, MarketRate | None]]:
    """Mapped (product_type, term) pairs whose newest rate is missing or stale, for the warning banner."""
    rates = market_rates(organization=organization, as_of=as_of)
    keys = SeriesMapping.objects.filter(organization=organization).values_list("product_type", "term_months")
    return [
        (product, term, rates.get((product, term)))
        for product, term in keys
        if is_stale(rates.get((product, term)), organization=organization, as_of=as_of)
    ]
