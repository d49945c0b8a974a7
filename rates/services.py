"""Writes of market rates: series and mappings, observations (FRED, CSV, rate sheets, by hand), fetches.

Every observation write goes through ``observations_store`` (bulk) or ``observation_record`` (one row): one
observation per series and date, storing the same value again changes nothing, and a changed value updates
the row and leaves a RateRevision behind.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.choices import ProductType
from core.formatting import date_text
from core.models import Organization
from core.money import percent
from rates import defaults
from rates.fred import FredClient, FredError, FredNotConfigured
from rates.importers import (
    ParsedFredCsv,
    ProductKey,
    RateFileError,
    RowError,
    parse_fred_csv,
    parse_rate_sheet,
)
from rates.models import RateFetch, RateObservation, RateRevision, RateSeries, SeriesMapping

logger = logging.getLogger(__name__)

SHIPPED_DATA_DIR = Path(__file__).resolve().parent / "data"
REVISION_WINDOW = dt.timedelta(days=28)  # a daily fetch re-reads four weeks so FRED revisions are caught
Source = RateSeries.Source


@dataclass
class StoreResult:
    created: int = 0
    revised: int = 0
    unchanged: int = 0

    def __add__(self, other: StoreResult) -> StoreResult:
        return StoreResult(self.created + other.created, self.revised + other.revised, self.unchanged + other.unchanged)

    def __str__(self) -> str:
        return f"{self.created} new, {self.revised} revised, {self.unchanged} unchanged"


# -- series and mappings ----------------------------------------------------------------------------------------


def rate_series_ensure_defaults() -> list[RateSeries]:
    """The public FRED series of rates/defaults.py, fetched daily. Existing rows keep an operator's edits."""
    result = []
    for code, (title, product_type, term_months, frequency) in defaults.SERIES.items():
        series, created = RateSeries.objects.get_or_create(
            organization=None,
            code=code,
            defaults={
                "title": title,
                "source": Source.FRED,
                "product_type": product_type,
                "term_months": term_months,
                "frequency": frequency,
                "fetch_enabled": True,
            },
        )
        if created:
            logger.info("Created public rate series %s", code)
        result.append(series)
    return result


def series_mappings_ensure_defaults(*, organization: Organization) -> int:
    """Map every product type and term the organization has not mapped yet; never touches existing rows."""
    public = {s.code: s for s in rate_series_ensure_defaults()}
    existing = set(SeriesMapping.objects.filter(organization=organization).values_list("product_type", "term_months"))
    created = 0
    for (product_type, term_months), (main, fallback) in defaults.MAPPINGS.items():
        if (product_type, term_months) in existing:
            continue
        mapping = SeriesMapping(
            organization=organization,
            product_type=product_type,
            term_months=term_months,
            series=public[main],
            fallback_series=public[fallback],
        )
        mapping.full_clean()
        mapping.save()
        created += 1
    return created


def series_mapping_set(
    *, organization: Organization, product_type: str, term_months: int, series: RateSeries, fallback: RateSeries | None
) -> SeriesMapping:
    """Point one product and term of an organization at a series (used by rate sheets and the demo)."""
    if series.organization_id not in (None, organization.pk):
        raise ValidationError("A product can only be priced by a public series or one of your own.")
    mapping, _ = SeriesMapping.objects.get_or_create(
        organization=organization,
        product_type=product_type,
        term_months=term_months,
        defaults={"series": series, "fallback_series": fallback},
    )
    mapping.series, mapping.fallback_series = series, fallback
    mapping.full_clean()
    mapping.save()
    return mapping


# -- observations -------------------------------------------------------------------------------------------------


@transaction.atomic
def observations_store(
    *,
    series: RateSeries,
    observations: Sequence[tuple[dt.date, Decimal]],
    source: str,
    revision_source: str,
    entered_by: Any = None,
) -> StoreResult:
    """Upsert many observations of one series in a few statements (new rows bulk-inserted, changed rows
    bulk-updated with a RateRevision each); values must already be checked and rounded to 3 decimals."""
    result = StoreResult()
    if not observations:
        return result
    dates = [date for date, _ in observations]
    existing = {
        obs.date: obs
        for obs in RateObservation.objects.select_for_update().filter(
            series=series, date__gte=min(dates), date__lte=max(dates)
        )
    }
    new, changed, revisions = [], [], []
    for date, value in observations:
        obs = existing.get(date)
        if obs is None:
            new.append(RateObservation(series=series, date=date, rate=value, source=source, entered_by=entered_by))
        elif obs.rate != value:
            revisions.append(
                RateRevision(observation=obs, old_rate=obs.rate, new_rate=value, source=revision_source[:40])
            )
            logger.info("Revised %s %s: %s -> %s (%s)", series.code, date, obs.rate, value, revision_source)
            obs.rate, obs.source, obs.entered_by = value, source, entered_by
            obs.updated_at = timezone.now()
            changed.append(obs)
        else:
            result.unchanged += 1
    RateObservation.objects.bulk_create(new, batch_size=500)
    RateObservation.objects.bulk_update(changed, ["rate", "source", "entered_by", "updated_at"], batch_size=500)
    RateRevision.objects.bulk_create(revisions, batch_size=500)
    result.created, result.revised = len(new), len(changed)
    return result


@transaction.atomic
def observation_record(
    *,
    series: RateSeries,
    date: dt.date,
    rate: Decimal,
    source: str = Source.MANUAL,
    user: Any = None,
    revision_source: str = "",
) -> tuple[RateObservation, str]:
    """Enter one value by hand (admin, rate sheet, demo): ``(observation, "created"|"revised"|"unchanged")``."""
    obs = RateObservation.objects.select_for_update().filter(series=series, date=date).first()
    if obs is None:
        obs = RateObservation(series=series, date=date, rate=rate, source=source, entered_by=user)
        obs.full_clean()
        obs.save()
        return obs, "created"
    if obs.rate == rate:
        return obs, "unchanged"
    old = obs.rate
    obs.rate, obs.source, obs.entered_by = rate, source, user
    obs.full_clean()
    obs.save()
    who = getattr(user, "username", "") or source
    RateRevision.objects.create(
        observation=obs, old_rate=old, new_rate=obs.rate, source=(revision_source or f"{source} by {who}")[:40]
    )
    logger.info("Revised %s %s: %s -> %s", series.code, date, old, obs.rate)
    return obs, "revised"


# -- FRED CSV files (shipped history, import_rates) ------------------------------------------------------------


def _public_series(code: str) -> RateSeries:
    if code in defaults.SERIES:
        rate_series_ensure_defaults()
    series, _ = RateSeries.objects.get_or_create(
        organization=None, code=code, defaults={"title": code, "source": Source.FRED}
    )
    return series


def rates_import_fred_csv(
    *, file: IO[Any] | str | bytes, label: str = "FRED CSV"
) -> tuple[RateSeries, StoreResult, ParsedFredCsv]:
    """Load one FRED CSV download into its public series; a file with any bad row loads nothing."""
    parsed = parse_fred_csv(file)
    if parsed.errors:
        raise RateFileError(f"{label}: " + "; ".join(str(e) for e in parsed.errors[:10]))
    with transaction.atomic():
        series = _public_series(parsed.series_code)
        result = observations_store(
            series=series, observations=parsed.observations, source=Source.FRED, revision_source=f"csv {label}"
        )
    return series, result, parsed


def rates_load_shipped_history(*, data_dir: Path | None = None) -> dict[str, StoreResult]:
    """The real FRED history in rates/data/*.csv (the embedded default without FRED_API_KEY); idempotent."""
    results = {}
    for path in sorted((data_dir or SHIPPED_DATA_DIR).glob("*.csv")):
        with path.open(encoding="utf-8") as handle:
            series, result, _ = rates_import_fred_csv(file=handle, label=path.name)
        results[series.code] = result
    return results


# -- FRED API ------------------------------------------------------------------------------------------------------


def fred_configured() -> bool:
    return bool(settings.FRED_API_KEY)


def fetch_series(*, series: RateSeries, since: dt.date | None = None, client: FredClient | None = None) -> RateFetch:
    """Fetch one public series from FRED and store what is new or revised. A failure stores no observation
    (yesterday's data stays as it was) and is recorded as a failed RateFetch with the reason."""
    if series.organization_id is not None or series.source != Source.FRED:
        raise ValueError(f"{series.code} is not a public FRED series")
    client = client or FredClient()  # raises FredNotConfigured without FRED_API_KEY
    started = timezone.now()
    if since is None:
        latest = RateObservation.objects.filter(series=series).order_by("-date").values_list("date", flat=True).first()
        since = latest - REVISION_WINDOW if latest else None
    try:
        data = client.observations(series.code, start=since)
        with transaction.atomic():
            result = observations_store(
                series=series,
                observations=[(o.date, o.rate) for o in data.observations],
                source=Source.FRED,
                revision_source="fred",
            )
            fetch = RateFetch.objects.create(
                series=series,
                status=RateFetch.Status.SUCCEEDED,
                started_at=started,
                finished_at=timezone.now(),
                observations_received=len(data.observations) + data.missing,
                created=result.created,
                revised=result.revised,
            )
    except FredError as exc:
        logger.warning("FRED fetch of %s failed: %s", series.code, exc.message)
        return _fetch_failed(series, started, exc.message)
    except Exception as exc:  # noqa: BLE001 — recorded, and the other series still run
        logger.exception("FRED fetch of %s failed unexpectedly", series.code)
        return _fetch_failed(series, started, f"unexpected error: {type(exc).__name__}: {exc}"[:1000])
    logger.info("FRED %s: %s", series.code, result)
    return fetch


def _fetch_failed(series: RateSeries, started: dt.datetime, reason: str) -> RateFetch:
    return RateFetch.objects.create(
        series=series, status=RateFetch.Status.FAILED, started_at=started, finished_at=timezone.now(), error=reason
    )


def fetch_all_rates(
    *, codes: Iterable[str] | None = None, since: dt.date | None = None, client: FredClient | None = None
) -> list[RateFetch]:
    """Fetch every enabled public series (or just ``codes``). Without FRED_API_KEY: logs and stores nothing."""
    try:
        client = client or FredClient()
    except FredNotConfigured:
        logger.warning("FRED_API_KEY is not set: no rates fetched; the app runs on the shipped FRED history.")
        return []
    rate_series_ensure_defaults()
    qs = RateSeries.objects.filter(organization__isnull=True, source=Source.FRED)
    if codes:
        wanted = [c.upper() for c in codes]
        unknown = sorted(set(wanted) - set(qs.filter(code__in=wanted).values_list("code", flat=True)))
        if unknown:
            known = ", ".join(qs.values_list("code", flat=True))
            raise ValueError(
                f"unknown FRED series {', '.join(unknown)} (configured: {known}; an operator adds series in admin)"
            )
        qs = qs.filter(code__in=wanted)
    else:
        qs = qs.filter(fetch_enabled=True)
    return [fetch_series(series=series, since=since, client=client) for series in qs.order_by("code")]


# -- the desk's rate sheet -----------------------------------------------------------------------------------------


class RateSheetInvalid(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:10]))


@dataclass
class RateSheetRow:
    line: int
    key: str
    series_code: str
    series_title: str
    date: dt.date
    rate: Decimal
    previous: Decimal | None
    new_series: bool
    product: ProductKey | None = None

    @property
    def action(self) -> str:
        if self.previous is None:
            return "new"
        return "unchanged" if self.previous == self.rate else "revised"


@dataclass
class RateSheetPreview:
    rows: list[RateSheetRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    new_products: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors


def rate_sheet_code(product_type: str, term_months: int) -> str:
    return f"RATESHEET-{product_type.upper()}-{term_months // 12}Y"


def rate_sheet_title(product_type: str, term_months: int) -> str:
    return f"Rate sheet: {ProductType(product_type).label} {term_months // 12}-year fixed"


def rate_sheet_preview(*, organization: Organization, file: IO[Any] | str | bytes) -> RateSheetPreview:
    """Check a rate sheet without writing: what each row would do, and every row's problem."""
    try:
        parsed = parse_rate_sheet(file)
    except RateFileError as exc:
        return RateSheetPreview(errors=[RowError(1, str(exc))])
    preview = RateSheetPreview(errors=list(parsed.errors))
    own = {s.code.upper(): s for s in RateSeries.objects.filter(organization=organization)}
    public = set(RateSeries.objects.filter(organization__isnull=True).values_list("code", flat=True))
    today = organization.today()
    for line in parsed.lines:
        if line.date > today:
            # A desk sheet prices today (or a day already past); a future date would price nothing yet and, once
            # that day came, would look fresh without anyone having checked it.
            preview.errors.append(
                RowError(
                    line.line,
                    f"{date_text(line.date)} is in the future (today is {date_text(today)} in "
                    f"{organization.timezone}): a rate sheet may only carry today's or earlier rates",
                )
            )
            continue
        if line.product:
            code = rate_sheet_code(line.product.product_type, line.product.term_months)
            title = rate_sheet_title(line.product.product_type, line.product.term_months)
        elif line.key.upper() in own:
            code, title = own[line.key.upper()].code, own[line.key.upper()].title
        elif line.key.upper() in public:
            preview.errors.append(
                RowError(line.line, f"{line.key} is a public FRED series; a rate sheet prices your own products")
            )
            continue
        else:
            preview.errors.append(
                RowError(
                    line.line,
                    f"unknown product or series {line.key!r} (use e.g. 'Conforming 30', 'FHA 30', 'Jumbo 15' "
                    "or the code of one of your rate series)",
                )
            )
            continue
        series = own.get(code.upper())
        previous = (
            RateObservation.objects.filter(series=series, date=line.date).values_list("rate", flat=True).first()
            if series
            else None
        )
        preview.rows.append(
            RateSheetRow(line.line, line.key, code, title, line.date, line.rate, previous, series is None, line.product)
        )
        if series is None and line.product:
            key = (line.product.product_type, line.product.term_months)
            if key not in preview.new_products:
                preview.new_products.append(key)
    preview.errors.sort(key=lambda e: e.line)
    return preview


@transaction.atomic
def rate_sheet_import(
    *, organization: Organization, file: IO[Any] | str | bytes, user: Any, use_for_pricing: bool = True
) -> StoreResult:
    """Load the desk's rate sheet into the organization's own series, all rows or none (RateSheetInvalid).

    Rows naming a product ("Conforming 30") go to the organization's rate-sheet series for that product,
    created on first use; with ``use_for_pricing`` the product is then priced by it, with the series that
    priced it before as the fallback.
    """
    preview = rate_sheet_preview(organization=organization, file=file)
    if not preview.ok:
        raise RateSheetInvalid(preview.errors or [RowError(1, "the sheet has no rates")])
    series_by_code: dict[str, RateSeries] = {}
    for row in preview.rows:
        if row.series_code in series_by_code:
            continue
        series = RateSeries.objects.filter(organization=organization, code=row.series_code).first()
        if series is None and row.product is not None:
            series = RateSeries(
                organization=organization,
                code=row.series_code,
                title=row.series_title,
                source=Source.RATE_SHEET,
                product_type=row.product.product_type,
                term_months=row.product.term_months,
                frequency="daily",
                fetch_enabled=False,
            )
            series.full_clean()
            series.save()
        if use_for_pricing and row.product is not None and series is not None:
            # Every upload that asks for it prices its products (also a sheet whose series exists from an earlier
            # upload that did not): the board's market rates then come from this sheet.
            current = SeriesMapping.objects.filter(
                organization=organization, product_type=series.product_type, term_months=series.term_months
            ).first()
            if current is None or current.series_id != series.pk:
                series_mapping_set(
                    organization=organization,
                    product_type=series.product_type,
                    term_months=series.term_months,
                    series=series,
                    fallback=current.series if current else None,
                )
        series_by_code[row.series_code] = series
    result = StoreResult()
    who = getattr(user, "username", "") or "upload"
    for code, series in series_by_code.items():
        result += observations_store(
            series=series,
            observations=[(r.date, r.rate) for r in preview.rows if r.series_code == code],
            source=Source.RATE_SHEET,
            revision_source=f"rate sheet by {who}",
            entered_by=user if getattr(user, "pk", None) else None,
        )
    logger.info("Rate sheet for %s: %s", organization.slug, result)
    return result


# -- the demo --------------------------------------------------------------------------------------------------


def demo_series_code(product_type: str, term_months: int) -> str:
    return f"DEMO-{product_type.upper()}-{term_months // 12}Y"


@transaction.atomic
def demo_rate_sheet_ensure(*, organization: Organization, as_of: dt.date) -> list[RateSeries]:
    """The demo lender's own "desk rate sheet" dated ``as_of``, so the demo is not blocked by stale rates.

    The shipped FRED history ends in 2025/2026. For each product and term the organization maps, the rate
    sheet gets one observation on ``as_of`` whose value is copied from the newest real observation of the
    mapped FRED series (its fallback when the series has no history); the series title says exactly which
    observation. The product is then priced by the rate sheet, with that FRED series as the fallback.
    """
    series_mappings_ensure_defaults(organization=organization)
    created = []
    mappings = SeriesMapping.objects.filter(organization=organization).select_related("series", "fallback_series")
    for mapping in mappings:
        candidates = _fred_candidates(mapping)
        source_series, source_obs = None, None
        for candidate in candidates:
            source_obs = RateObservation.objects.filter(series=candidate, date__lte=as_of).order_by("-date").first()
            if source_obs is not None:
                source_series = candidate
                break
        if source_series is None or source_obs is None:
            logger.warning("Demo rate sheet: no FRED history for %s %s", mapping.product_type, mapping.term_months)
            continue
        label = ProductType(mapping.product_type).label
        years = mapping.term_months // 12
        series, _ = RateSeries.objects.update_or_create(
            organization=organization,
            code=demo_series_code(mapping.product_type, mapping.term_months),
            defaults={
                "title": (
                    f"Demo desk rate sheet: {label} {years}-year — value copied from FRED {source_series.code} "
                    f"of {date_text(source_obs.date)} ({percent(source_obs.rate)}), dated {date_text(as_of)} "
                    "for the demo"
                ),
                "source": Source.RATE_SHEET,
                "product_type": mapping.product_type,
                "term_months": mapping.term_months,
                "frequency": "daily",
                "fetch_enabled": False,
            },
        )
        observation_record(
            series=series,
            date=as_of,
            rate=source_obs.rate,
            source=Source.RATE_SHEET,
            revision_source=f"demo copy of {source_series.code}",
        )
        series_mapping_set(
            organization=organization,
            product_type=mapping.product_type,
            term_months=mapping.term_months,
            series=series,
            fallback=source_series,
        )
        created.append(series)
    return created


def _fred_candidates(mapping: SeriesMapping) -> list[RateSeries]:
    """The public series whose history prices this mapping: its own FRED series, else the defaults'."""
    main_code, fallback_code = defaults.MAPPINGS.get(
        (mapping.product_type, mapping.term_months), ("MORTGAGE30US", "MORTGAGE30US")
    )
    ordered: list[RateSeries] = []
    for series in (mapping.series, mapping.fallback_series):
        if series is not None and series.organization_id is None and series not in ordered:
            ordered.append(series)
    for code in (main_code, fallback_code):
        series = RateSeries.objects.filter(organization__isnull=True, code=code).first()
        if series is not None and series not in ordered:
            ordered.append(series)
    return ordered
