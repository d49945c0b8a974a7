"""Reads of market rates: the rate that prices each product today, whether it is stale, and the rates page."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField, Max, OuterRef, Q, Subquery

from core.choices import term_bucket
from core.models import Organization
from core.money import rate as round_rate
from rates.models import RateFetch, RateObservation, RateSeries, SeriesMapping


@dataclass(frozen=True)
class MarketRate:
    series_id: int
    series_code: str
    date: dt.date
    rate: Decimal
    is_fallback: bool

    def age_days(self, as_of: dt.date) -> int:
        return (as_of - self.date).days


def organization_today(organization: Organization) -> dt.date:
    """Today's date where the organization is (staleness is counted in its days)."""
    return organization.today()


def latest_observation(*, series_id: int, as_of: dt.date) -> RateObservation | None:
    """The newest observation on or before ``as_of`` (index rates_obs_latest_idx)."""
    return RateObservation.objects.filter(series_id=series_id, date__lte=as_of).order_by("-date").first()


def latest_observations(*, series_ids: set[int], as_of: dt.date) -> dict[int, tuple[dt.date, Decimal]]:
    """{series id: (date, rate)} of the newest observation on or before ``as_of``, in one query."""
    if not series_ids:
        return {}
    newest = RateObservation.objects.filter(series=OuterRef("pk"), date__lte=as_of).order_by("-date")
    rows = (
        RateSeries.objects.filter(pk__in=series_ids)
        .annotate(
            latest_date=Subquery(newest.values("date")[:1]),
            latest_rate=Subquery(newest.values("rate")[:1], output_field=DecimalField(max_digits=6, decimal_places=3)),
        )
        .values_list("pk", "latest_date", "latest_rate")
    )
    # SQLite hands a subquery's decimal back as a float-made Decimal: normalise to the stored 3 places.
    return {pk: (date, round_rate(rate)) for pk, date, rate in rows if date is not None}


def _mappings(organization: Organization | int) -> list[SeriesMapping]:
    org_id = getattr(organization, "pk", organization)
    return list(SeriesMapping.objects.filter(organization_id=org_id).select_related("series", "fallback_series"))


def _rates_for(mappings: list[SeriesMapping], as_of: dt.date) -> dict[tuple[str, int], MarketRate]:
    ids = {m.series_id for m in mappings} | {m.fallback_series_id for m in mappings if m.fallback_series_id}
    latest = latest_observations(series_ids=ids, as_of=as_of)
    result: dict[tuple[str, int], MarketRate] = {}
    for mapping in mappings:
        series, fallback = mapping.series, False
        obs = latest.get(mapping.series_id)
        if obs is None and mapping.fallback_series_id:
            series, fallback = mapping.fallback_series, True
            obs = latest.get(mapping.fallback_series_id)
        if obs is not None and series is not None:
            result[(mapping.product_type, mapping.term_months)] = MarketRate(
                series_id=series.pk, series_code=series.code, date=obs[0], rate=obs[1], is_fallback=fallback
            )
    return result


def market_rates(*, organization: Organization | int, as_of: dt.date) -> dict[tuple[str, int], MarketRate]:
    """For each (product_type, term bucket) the organization maps: the latest rate of its series, or of
    the fallback series when the main one has no observation yet. Products without any rate are absent.
    Two queries however many products are mapped."""
    return _rates_for(_mappings(organization), as_of)


def stale_before(organization: Organization, *, as_of: dt.date) -> dt.date:
    """The one staleness rule (DESIGN §5): a rate dated before this day is older than the organization's
    staleness limit. The board, the opportunity page, the banner and the dispatcher all ask here."""
    return as_of - dt.timedelta(days=organization.staleness_days)


def is_stale_date(date: dt.date | None, *, organization: Organization, as_of: dt.date) -> bool:
    """A rate of this date (None: no rate at all) is stale on ``as_of``: new outreach waits on it."""
    return date is None or date < stale_before(organization, as_of=as_of)


def is_stale(rate: MarketRate | None, *, organization: Organization, as_of: dt.date) -> bool:
    """A missing rate, or one older than the organization's staleness limit, blocks new outreach."""
    return is_stale_date(rate.date if rate is not None else None, organization=organization, as_of=as_of)


def rates_changed_at(*, series: list[RateSeries]) -> dt.datetime | None:
    """When a rate of these series (``series_for_organization``) was last stored or revised (an upload, a fetch)."""
    if not series:
        return None
    return RateObservation.objects.filter(series__in=series).aggregate(changed=Max("updated_at"))["changed"]


def stale_products(*, organization: Organization, as_of: dt.date) -> list[tuple[str, int, MarketRate | None]]:
    """Mapped (product_type, term) pairs whose newest rate is missing or stale, for the warning banner."""
    mappings = _mappings(organization)
    rates = _rates_for(mappings, as_of)
    return [
        (m.product_type, m.term_months, rates.get((m.product_type, m.term_months)))
        for m in mappings
        if is_stale(rates.get((m.product_type, m.term_months)), organization=organization, as_of=as_of)
    ]


def product_rate_status(
    *, organization: Organization, product_type: str, term_months: int, as_of: dt.date
) -> tuple[MarketRate | None, bool]:
    """The rate that prices a loan of this product and term (any term: bucketed to 15/30 years) and whether
    it is stale. Outreach must not start on a stale rate."""
    rate = market_rates(organization=organization, as_of=as_of).get((product_type, term_bucket(term_months)))
    return rate, is_stale(rate, organization=organization, as_of=as_of)


# -- the rates page ---------------------------------------------------------------------------------------------


@dataclass
class SeriesSummary:
    series: RateSeries
    date: dt.date | None = None
    rate: Decimal | None = None
    change_1w: Decimal | None = None
    change_4w: Decimal | None = None
    prices: list[str] = field(default_factory=list)  # "Conforming 30-year", "(fallback) FHA 30-year"
    last_fetch: RateFetch | None = None

    @property
    def fred_url(self) -> str:
        if self.series.organization_id is None and self.series.source == RateSeries.Source.FRED:
            return f"https://fred.stlouisfed.org/series/{self.series.code}"
        return ""


def series_for_organization(*, organization: Organization) -> list[RateSeries]:
    """The series an organization uses: those its products are mapped to (and their fallbacks), then its own
    rate sheets. Never another organization's series."""
    mappings = _mappings(organization)
    ordered: dict[int, RateSeries] = {}
    for mapping in mappings:
        ordered.setdefault(mapping.series_id, mapping.series)
    for mapping in mappings:
        if mapping.fallback_series_id:
            ordered.setdefault(mapping.fallback_series_id, mapping.fallback_series)  # type: ignore[arg-type]
    for series in RateSeries.objects.filter(organization=organization).order_by("code"):
        ordered.setdefault(series.pk, series)
    return [s for s in ordered.values() if s.organization_id in (None, organization.pk)]


def _change(history: list[tuple[dt.date, Decimal]], days: int) -> Decimal | None:
    """Latest rate minus the rate of the newest observation at least ``days`` before it."""
    if not history:
        return None
    latest_date, latest_rate = history[-1]
    cutoff = latest_date - dt.timedelta(days=days)
    earlier = [rate for date, rate in history if date <= cutoff]
    return latest_rate - earlier[-1] if earlier else None


def series_summaries(*, organization: Organization, series: list[RateSeries], as_of: dt.date) -> list[SeriesSummary]:
    """Per series: newest rate on or before ``as_of``, its date, change over 1 and 4 weeks, what it prices."""
    ids = {s.pk for s in series}
    latest = latest_observations(series_ids=ids, as_of=as_of)
    window = Q(pk__in=[])
    for series_id, (date, _) in latest.items():
        window |= Q(series_id=series_id, date__gte=date - dt.timedelta(days=35), date__lte=date)
    recent: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for series_id, date, rate in (
        RateObservation.objects.filter(window).order_by("series_id", "date").values_list("series_id", "date", "rate")
    ):
        recent[series_id].append((date, rate))
    newest_fetch = RateFetch.objects.filter(series=OuterRef("pk")).order_by("-started_at").values("pk")[:1]
    fetch_ids = RateSeries.objects.filter(pk__in=ids).annotate(fetch_id=Subquery(newest_fetch)).values("fetch_id")
    fetches = {f.series_id: f for f in RateFetch.objects.filter(pk__in=fetch_ids)}
    prices: dict[int, list[str]] = defaultdict(list)
    for mapping in _mappings(organization):
        label = f"{mapping.get_product_type_display()} {mapping.term_months // 12}-year"
        prices[mapping.series_id].append(label)
        if mapping.fallback_series_id and mapping.fallback_series_id != mapping.series_id:
            prices[mapping.fallback_series_id].append(f"{label} (fallback)")
    result = []
    for s in series:
        summary = SeriesSummary(series=s, prices=prices.get(s.pk, []), last_fetch=fetches.get(s.pk))
        if s.pk in latest:
            summary.date, summary.rate = latest[s.pk]
            summary.change_1w = _change(recent[s.pk], 7)
            summary.change_4w = _change(recent[s.pk], 28)
        result.append(summary)
    return result


RANGES = {"1y": 365, "3y": 3 * 365, "all": None}


def rate_history(
    *, series: list[RateSeries], end: dt.date, range_key: str = "1y"
) -> dict[int, list[tuple[dt.date, Decimal]]]:
    """{series id: [(date, rate), ...]} ascending, from ``end`` minus the range (1y, 3y, all) to ``end``."""
    days = RANGES.get(range_key, RANGES["1y"])
    qs = RateObservation.objects.filter(series__in=[s.pk for s in series], date__lte=end)
    if days is not None:
        qs = qs.filter(date__gte=end - dt.timedelta(days=days))
    history: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for series_id, date, rate in qs.order_by("series_id", "date").values_list("series_id", "date", "rate"):
        history[series_id].append((date, rate))
    return history


def shipped_history_note() -> dict[str, object]:
    """Whether the app is fetching from FRED, and the newest observation of the public series."""
    newest = (
        RateObservation.objects.filter(series__organization__isnull=True)
        .order_by("-date")
        .values_list("date", flat=True)
        .first()
    )
    last_fetch = (
        RateFetch.objects.filter(status=RateFetch.Status.SUCCEEDED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    return {"fred_configured": bool(settings.FRED_API_KEY), "newest": newest, "last_fetch": last_fetch}
