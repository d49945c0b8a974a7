"""House price indexes: the shipped FHFA history, and FRED's ``<ST>STHPI`` series when a FRED key is set.

Both write one row per (state, quarter) through ``hpi_store`` (new rows inserted, changed values updated,
unchanged rows left alone), so loading twice changes nothing. FRED dates a quarterly observation by the
quarter's first day, the same convention as ``HousePriceIndex.quarter``.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from core.us_states import STATES
from rates.fred import FredClient, FredError, FredNotConfigured
from scoring.models import HousePriceIndex

logger = logging.getLogger(__name__)

SHIPPED_HPI = Path(__file__).resolve().parent.parent / "data" / "fhfa_hpi_at_state_quarterly.csv"
MAX_INDEX = Decimal("100000")
HPI_STATES = tuple(code for code in STATES if code not in ("PR", "GU", "VI"))  # FHFA: 50 states and DC


class HpiFileError(ValueError):
    pass


@dataclass
class HpiResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def index_value(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def quarter_start(year: int, quarter: int) -> dt.date:
    return dt.date(year, 3 * (quarter - 1) + 1, 1)


def parse_hpi_csv(lines: Iterable[str]) -> list[tuple[str, dt.date, Decimal]]:
    """``state,year,quarter,index_nsa`` (comment lines starting with # skipped); any bad row rejects the file."""
    rows, errors = [], []
    reader = csv.DictReader(line for line in lines if not line.startswith("#"))
    if reader.fieldnames is None or not {"state", "year", "quarter", "index_nsa"} <= set(reader.fieldnames):
        raise HpiFileError("The file needs the columns state, year, quarter, index_nsa.")
    for number, row in enumerate(reader, start=2):
        try:
            state = row["state"].strip().upper()
            if len(state) != 2 or not state.isalpha():
                raise ValueError(f"state {row['state']!r} is not a two-letter code")
            quarter = int(row["quarter"])
            if quarter not in (1, 2, 3, 4):
                raise ValueError(f"quarter {row['quarter']!r} is not 1-4")
            value = Decimal(row["index_nsa"].strip())
            if not value.is_finite() or not (0 < value < MAX_INDEX):
                raise ValueError(f"index {row['index_nsa']!r} is not a positive number")
            rows.append((state, quarter_start(int(row["year"]), quarter), index_value(value)))
        except (ValueError, InvalidOperation, KeyError, TypeError) as exc:
            errors.append(f"line {number}: {exc}")
    if errors:
        raise HpiFileError("; ".join(errors[:10]))
    return rows


@transaction.atomic
def hpi_store(*, rows: list[tuple[str, dt.date, Decimal]], source: str) -> HpiResult:
    result = HpiResult()
    if not rows:
        return result
    states = {state for state, _, _ in rows}
    existing = {(h.state, h.quarter): h for h in HousePriceIndex.objects.select_for_update().filter(state__in=states)}
    new, changed = [], []
    for state, quarter, value in rows:
        row = existing.get((state, quarter))
        if row is None:
            new.append(HousePriceIndex(state=state, quarter=quarter, value=value, source=source))
        elif row.value != value:
            row.value, row.source = value, source
            changed.append(row)
        else:
            result.unchanged += 1
    HousePriceIndex.objects.bulk_create(new, batch_size=1000)
    HousePriceIndex.objects.bulk_update(changed, ["value", "source", "updated_at"], batch_size=1000)
    result.created, result.updated = len(new), len(changed)
    return result


def hpi_load_shipped(*, path: Path | None = None, states: Iterable[str] | None = None) -> HpiResult:
    """The FHFA history shipped in scoring/data (1975Q1–2024Q4, 50 states and DC), or only ``states``; idempotent."""
    with (path or SHIPPED_HPI).open(encoding="utf-8") as handle:
        rows = parse_hpi_csv(handle)
    if states is not None:
        wanted = set(states)
        rows = [row for row in rows if row[0] in wanted]
    return hpi_store(rows=rows, source=HousePriceIndex.Source.SHIPPED)


def hpi_ensure_loaded() -> HpiResult | None:
    """Load the shipped history unless it is there already (the daily task and the demo call this)."""
    if HousePriceIndex.objects.filter(quarter=dt.date(2024, 10, 1)).count() >= 51:
        return None
    return hpi_load_shipped()


def hpi_fetch_fred(
    *, states: Iterable[str] | None = None, since: dt.date | None = None, client: FredClient | None = None
) -> dict[str, str]:
    """Fetch ``<ST>STHPI`` for every state from FRED; {state: "n new, m revised" or the error}. Without
    FRED_API_KEY nothing is fetched and the shipped history stands."""
    try:
        client = client or FredClient()
    except FredNotConfigured:
        logger.info("FRED_API_KEY is not set: house price indexes stay as shipped.")
        return {}
    outcome = {}
    for state in states or HPI_STATES:
        series = f"{state}STHPI"
        try:
            data = client.observations(series, start=since, max_value=MAX_INDEX, places=index_value)
        except FredError as exc:
            logger.warning("FRED fetch of %s failed: %s", series, exc.message)
            outcome[state] = exc.message
            continue
        result = hpi_store(
            rows=[(state, o.date, o.rate) for o in data.observations], source=HousePriceIndex.Source.FRED
        )
        outcome[state] = f"{result.created} new, {result.updated} revised"
    return outcome
