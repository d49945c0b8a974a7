"""US states and territories: postal code, name and the timezone most of its residents live in.

Used to validate the state columns of LOS imports and to give a borrower a timezone for quiet hours when
the export has none. States split across timezones get the zone of the majority of their population.
"""

from __future__ import annotations

STATES: dict[str, tuple[str, str]] = {
    "AL": ("Alabama", "America/Chicago"),
    "AK": ("Alaska", "America/Anchorage"),
    "AZ": ("Arizona", "America/Phoenix"),
    "AR": ("Arkansas", "America/Chicago"),
    "CA": ("California", "America/Los_Angeles"),
    "CO": ("Colorado", "America/Denver"),
    "CT": ("Connecticut", "America/New_York"),
    "DE": ("Delaware", "America/New_York"),
    "DC": ("District of Columbia", "America/New_York"),
    "FL": ("Florida", "America/New_York"),
    "GA": ("Georgia", "America/New_York"),
    "HI": ("Hawaii", "Pacific/Honolulu"),
    "ID": ("Idaho", "America/Boise"),
    "IL": ("Illinois", "America/Chicago"),
    "IN": ("Indiana", "America/Indiana/Indianapolis"),
    "IA": ("Iowa", "America/Chicago"),
    "KS": ("Kansas", "America/Chicago"),
    "KY": ("Kentucky", "America/New_York"),
    "LA": ("Louisiana", "America/Chicago"),
    "ME": ("Maine", "America/New_York"),
    "MD": ("Maryland", "America/New_York"),
    "MA": ("Massachusetts", "America/New_York"),
    "MI": ("Michigan", "America/Detroit"),
    "MN": ("Minnesota", "America/Chicago"),
    "MS": ("Mississippi", "America/Chicago"),
    "MO": ("Missouri", "America/Chicago"),
    "MT": ("Montana", "America/Denver"),
    "NE": ("Nebraska", "America/Chicago"),
    "NV": ("Nevada", "America/Los_Angeles"),
    "NH": ("New Hampshire", "America/New_York"),
    "NJ": ("New Jersey", "America/New_York"),
    "NM": ("New Mexico", "America/Denver"),
    "NY": ("New York", "America/New_York"),
    "NC": ("North Carolina", "America/New_York"),
    "ND": ("North Dakota", "America/Chicago"),
    "OH": ("Ohio", "America/New_York"),
    "OK": ("Oklahoma", "America/Chicago"),
    "OR": ("Oregon", "America/Los_Angeles"),
    "PA": ("Pennsylvania", "America/New_York"),
    "RI": ("Rhode Island", "America/New_York"),
    "SC": ("South Carolina", "America/New_York"),
    "SD": ("South Dakota", "America/Chicago"),
    "TN": ("Tennessee", "America/Chicago"),
    "TX": ("Texas", "America/Chicago"),
    "UT": ("Utah", "America/Denver"),
    "VT": ("Vermont", "America/New_York"),
    "VA": ("Virginia", "America/New_York"),
    "WA": ("Washington", "America/Los_Angeles"),
    "WV": ("West Virginia", "America/New_York"),
    "WI": ("Wisconsin", "America/Chicago"),
    "WY": ("Wyoming", "America/Denver"),
    "PR": ("Puerto Rico", "America/Puerto_Rico"),
    "GU": ("Guam", "Pacific/Guam"),
    "VI": ("U.S. Virgin Islands", "America/St_Thomas"),
}

_BY_NAME = {name.lower(): code for code, (name, _tz) in STATES.items()}


def state_code(value: str) -> str | None:
    """The postal code for a code or a full name (any case), or None when it is not a US state."""
    cleaned = value.strip()
    if cleaned.upper() in STATES:
        return cleaned.upper()
    return _BY_NAME.get(cleaned.lower())


def state_timezone(code: str) -> str:
    return STATES[code][1] if code in STATES else ""


# States whose ZIP codes lie in more than one time zone, every zone of each (from the ``zipcodes`` package's
# data; tests/core/test_us_states.py checks this table against it). A borrower whose ZIP is unknown is sent to
# only in the hours that are 8am–9pm in every zone of their state.
SPLIT_STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AK": ("America/Anchorage", "America/Nome", "America/Juneau", "America/Sitka", "America/Adak",
           "America/Yakutat", "America/Metlakatla"),
    "AZ": ("America/Phoenix", "America/Denver"),
    "FL": ("America/New_York", "America/Chicago"),
    "ID": ("America/Boise", "America/Los_Angeles"),
    "IN": ("America/Indiana/Indianapolis", "America/Chicago", "America/Kentucky/Louisville",
           "America/Indiana/Vincennes", "America/Indiana/Tell_City", "America/Indiana/Marengo", "America/New_York",
           "America/Indiana/Knox", "America/Indiana/Petersburg", "America/Indiana/Winamac", "America/Indiana/Vevay"),
    "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago", "America/Kentucky/Louisville", "America/Kentucky/Monticello"),
    "MI": ("America/Detroit", "America/Menominee"),
    "ND": ("America/Chicago", "America/Denver", "America/North_Dakota/New_Salem", "America/North_Dakota/Beulah",
           "America/North_Dakota/Center"),
    "NE": ("America/Chicago", "America/Denver"),
    "OR": ("America/Los_Angeles", "America/Boise"),
    "SD": ("America/Chicago", "America/Denver"),
    "TN": ("America/Chicago", "America/New_York"),
    "TX": ("America/Chicago", "America/Denver"),
}  # fmt: skip


def state_zones(code: str) -> tuple[str, ...]:
    """Every time zone of a state: its one zone, or all of a split state's; () for an unknown code."""
    code = (code or "").upper()
    if code in SPLIT_STATE_ZONES:
        return SPLIT_STATE_ZONES[code]
    return (STATES[code][1],) if code in STATES else ()


def single_zone(code: str) -> str:
    """The state's zone when it has exactly one, else "" (a split state needs the ZIP)."""
    zones = state_zones(code)
    return zones[0] if len(zones) == 1 else ""
