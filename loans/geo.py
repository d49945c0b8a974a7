"""Where a ZIP code is: its state, county (FIPS) and time zone, from the ``zipcodes`` package's data.

``zipcodes`` gives a county by name ("El Paso County") and an IANA zone per ZIP; the FIPS code comes from the
county names of the shipped loan-limit files (FHFA 2026 first, then the CFPB's 2025 list, which still has
Connecticut's old counties). Loading the package's data takes a few seconds once per process, so callers are
imports and commands, never a request loop over loans; answers are cached.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
FHFA_2026 = DATA / "fhfa_conforming_loan_limits_2026_by_county.csv"
CFPB_2025 = DATA / "cfpb_county_limits_gse_fha_va_2025.csv"

# Connecticut's 2026 limits are by planning region; a ZIP still names its old county. Each old county maps to
# the region with the lowest limit among those it overlaps (Fairfield's two regions share $977,500).
CT_REGIONS = {
    "FAIRFIELDCOUNTY": "09190",
    "HARTFORDCOUNTY": "09110",
    "LITCHFIELDCOUNTY": "09160",
    "MIDDLESEXCOUNTY": "09130",
    "NEWHAVENCOUNTY": "09170",
    "NEWLONDONCOUNTY": "09180",
    "TOLLANDCOUNTY": "09150",
    "WINDHAMCOUNTY": "09150",
}


@dataclass(frozen=True)
class ZipPlace:
    zip_code: str
    state: str
    county_name: str
    county_fips: str  # "" when the county is not in the limit files
    timezone: str  # "" when the dataset has none


def county_key(name: str) -> str:
    """Names compared without case, spaces or punctuation ("St. Louis County" = "ST LOUIS COUNTY")."""
    return re.sub(r"[^A-Z]", "", name.upper().replace("SAINT ", "ST "))


def data_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a shipped CSV (its first line is the ``# source:`` comment)."""
    with path.open(newline="", encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines))


@lru_cache(maxsize=1)
def _county_index() -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for row in data_rows(CFPB_2025):
        index[(row["State"], county_key(row["County Name"]))] = row["Complete FIPS"]
    for row in data_rows(FHFA_2026):
        index[(row["state"], county_key(row["county_name"]))] = row["county_fips"]
    for key, fips in CT_REGIONS.items():
        index[("CT", key)] = fips
    return index


def county_fips(*, state: str, county_name: str) -> str:
    return _county_index().get((state.upper(), county_key(county_name)), "")


def zip5(value: str) -> str:
    digits = re.sub(r"[^0-9]", "", value or "")
    return digits[:5] if len(digits) >= 5 else ""


@lru_cache(maxsize=65536)
def zip_place(value: str) -> ZipPlace | None:
    """The place of a 5- or 9-digit ZIP, or None when it is not in the dataset."""
    code = zip5(value)
    if not code:
        return None
    import zipcodes

    try:
        found = zipcodes.matching(code)
    except (TypeError, ValueError):
        return None
    if not found:
        return None
    place = found[0]
    state, county = place.get("state", ""), place.get("county", "")
    return ZipPlace(
        zip_code=code,
        state=state,
        county_name=county,
        county_fips=county_fips(state=state, county_name=county) if county else "",
        timezone=place.get("timezone", "") or "",
    )


def zip_timezone(*zips: str) -> str:
    """The time zone of the first of ``zips`` (mailing, then property) that the dataset knows, else ""."""
    for value in zips:
        place = zip_place(value) if value else None
        if place is not None and place.timezone:
            return place.timezone
    return ""
