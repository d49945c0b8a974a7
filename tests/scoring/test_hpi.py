from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import responses

from pipeline.models import Opportunity
from rates.fred import FredClient
from scoring.models import HousePriceIndex
from scoring.services.hpi import HpiFileError, hpi_fetch_fred, hpi_load_shipped, parse_hpi_csv
from scoring.services.scores import opportunities_score
from tests.factories import LoanFactory, LoanProductFactory, OpportunityFactory

FRED_URL = "https://api.stlouisfed.org/fred/series/observations"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_shipped_history_loads_every_state_once_and_reloading_changes_nothing(db):
    first = hpi_load_shipped()
    assert first.created == 51 * 200 and first.updated == 0  # 50 states and DC, 1975Q1–2024Q4
    assert HousePriceIndex.objects.filter(quarter=dt.date(1980, 1, 1)).values_list("value", flat=True).distinct()[
        :1
    ].get() == Decimal("100.00")
    again = hpi_load_shipped()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 51 * 200)


def test_a_file_with_a_bad_row_loads_nothing(db):
    with pytest.raises(HpiFileError, match="line 3: quarter '5' is not 1-4"):
        parse_hpi_csv(["state,year,quarter,index_nsa", "IL,2024,4,250.10", "IL,2024,5,251.00"])
    with pytest.raises(HpiFileError, match="columns"):
        parse_hpi_csv(["state,year,value", "IL,2024,1"])


@pytest.mark.parametrize(
    ("valued_on", "base"),
    [
        (dt.date(2023, 10, 1), Decimal("481.22")),  # IL 2023Q4
        (dt.date(2023, 12, 31), Decimal("481.22")),  # the same quarter
        (dt.date(2021, 2, 14), Decimal("368.98")),  # IL 2021Q1
    ],
)
def test_mark_to_market_on_the_shipped_index(frozen, hpi, officer, valued_on, base):
    """value × index(latest quarter, IL 2024Q4 = 514.33) / index(quarter of the valuation), as the SQL writes it."""
    latest = HousePriceIndex.objects.get(state="IL", quarter=dt.date(2024, 10, 1)).value
    assert (
        HousePriceIndex.objects.get(
            state="IL", quarter=dt.date(valued_on.year, (valued_on.month - 1) // 3 * 3 + 1, 1)
        ).value
        == base
    )
    LoanProductFactory(organization=officer.organization, max_ltv_cash_out=Decimal("80.00"))
    opportunity = OpportunityFactory(
        loan=LoanFactory(loan_officer=officer, property_value=Decimal("520000.00"), property_value_date=valued_on)
    )
    opportunities_score(organization=officer.organization)
    opportunity.refresh_from_db()
    expected = (Decimal("520000.00") * latest / base).quantize(Decimal("0.01"))
    assert opportunity.estimated_value == expected
    assert opportunity.estimated_value_quarter == dt.date(2024, 10, 1)
    assert opportunity.equity == expected - opportunity.current_balance
    assert opportunity.current_ltv == (100 * opportunity.current_balance / expected).quantize(Decimal("0.01"))
    room = (expected * Decimal("0.80")).quantize(Decimal("0.01")) - opportunity.current_balance
    assert opportunity.cash_out_room == max(room, Decimal("0.00"))


def test_without_an_index_for_the_valuation_the_appraised_value_stands(frozen, hpi, officer):
    newer = OpportunityFactory(loan=LoanFactory(loan_officer=officer, property_value_date=dt.date(2025, 6, 1)))
    no_state = OpportunityFactory(loan=LoanFactory(loan_officer=officer, property_state=""))
    no_value = OpportunityFactory(loan=LoanFactory(loan_officer=officer, property_value=None, property_value_date=None))
    opportunities_score(organization=officer.organization)
    for opportunity in (newer, no_state):
        opportunity.refresh_from_db()
        assert opportunity.estimated_value == Decimal("520000.00") and opportunity.estimated_value_quarter is None
    no_value.refresh_from_db()
    assert no_value.estimated_value is None and no_value.current_ltv is None and no_value.score is not None


def test_cash_out_room_is_zero_when_equity_is_below_the_cash_out_ltv(frozen, hpi, officer):
    opportunity = OpportunityFactory(
        loan=LoanFactory(
            loan_officer=officer, property_value=Decimal("400000.00"), property_value_date=dt.date(2024, 11, 1)
        ),
    )
    opportunities_score(organization=officer.organization)
    opportunity.refresh_from_db()
    assert opportunity.current_ltv > 80 and opportunity.cash_out_room == Decimal("0.00")


@responses.activate
def test_fred_sthpi_is_stored_per_state_and_quarter(db):
    payload = json.loads((FIXTURES / "fred_observations_response_excerpt.json").read_text())
    payload.pop("_source")
    payload |= {"count": 2, "observations": [
        {"realtime_start": "2026-11-20", "realtime_end": "2026-11-20", "date": "2025-04-01", "value": "421.77"},
        {"realtime_start": "2026-11-20", "realtime_end": "2026-11-20", "date": "2025-07-01", "value": "."},
    ]}  # fmt: skip
    responses.get(FRED_URL, json=payload)
    outcome = hpi_fetch_fred(states=["IL"], client=FredClient(api_key="k" * 32, sleep=lambda s: None))
    assert outcome == {"IL": "1 new, 0 revised"}
    assert responses.calls[0].request.params["series_id"] == "ILSTHPI"
    row = HousePriceIndex.objects.get(state="IL")
    assert (row.quarter, row.value, row.source) == (dt.date(2025, 4, 1), Decimal("421.77"), "fred")


@responses.activate
def test_fred_error_is_reported_per_state_and_stores_nothing(db):
    responses.get(
        FRED_URL, status=400, json={"error_code": 400, "error_message": "Bad Request.  The series does not exist."}
    )
    outcome = hpi_fetch_fred(states=["ZZ"], client=FredClient(api_key="k" * 32, sleep=lambda s: None))
    assert "does not exist" in outcome["ZZ"] and not HousePriceIndex.objects.exists()


def test_without_a_fred_key_nothing_is_fetched(db, settings):
    settings.FRED_API_KEY = ""
    assert hpi_fetch_fred() == {}


def test_scoring_touches_only_open_opportunities_before_application(frozen, hpi, officer):
    before = OpportunityFactory(loan=LoanFactory(loan_officer=officer), stage=Opportunity.Stage.APPLICATION)
    opportunities_score(organization=officer.organization)
    before.refresh_from_db()
    assert before.score is None and before.estimated_value is None
