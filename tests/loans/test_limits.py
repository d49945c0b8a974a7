"""County loan limits: the shipped files (loaded by migration), the yearly load command, ZIP to county, and the
limit that applies on a date (newest year loaded, the baseline where the county is unknown)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from loans import geo, limits
from loans.models import LoanLimit
from tests.factories import LoanFactory

pytestmark = pytest.mark.django_db
D = Decimal


def test_shipped_files_name_their_source_and_are_loaded():
    for path in (geo.FHFA_2026, geo.CFPB_2025):
        assert path.read_text().startswith("# source: ")
    assert LoanLimit.objects.filter(year=2026, conforming_limit__isnull=False).count() == 3235
    assert LoanLimit.objects.filter(year=2025, fha_limit__isnull=False).count() == 3234
    la = LoanLimit.objects.get(year=2026, county_fips="06037")
    assert (la.county_name, la.conforming_limit) == ("LOS ANGELES COUNTY", D("1249125.00"))


def test_todays_limit_is_the_newest_year_and_the_baseline_where_unknown():
    today = dt.date(2026, 11, 22)
    assert limits.conforming_limit(county_fips="06037", as_of=today) == D("1249125.00")
    assert limits.conforming_limit(county_fips="", as_of=today) == D("832750")
    assert limits.conforming_limit(county_fips="99999", as_of=today) == D("832750")
    assert limits.conforming_limit(county_fips="06037", as_of=dt.date(2027, 6, 1)) == D("1249125.00")  # 2026's
    assert limits.fha_limit(county_fips="06037", as_of=today) == D("1209750.00")  # 2025's, the newest FHA year
    assert limits.fha_limit(county_fips="", as_of=today) == D("524225")


def test_zip_to_county_and_zone():
    el_paso = geo.zip_place("79901-1234")
    assert (el_paso.state, el_paso.county_fips, el_paso.timezone) == ("TX", "48141", "America/Denver")
    assert geo.zip_place("90001").county_fips == "06037"
    assert geo.zip_place("06830").county_fips == "09190"  # Greenwich: Fairfield County's planning region
    assert geo.zip_place("00000") is None and geo.zip_place("abc") is None


def test_load_command_loads_a_yearly_file_once(tmp_path):
    path = tmp_path / "fhfa_2027.csv"
    path.write_text(
        "fips_state,fips_county,county_fips,county_name,state,cbsa,limit_1_unit,limit_2_unit,limit_3_unit,limit_4_unit\n"
        "06,037,06037,LOS ANGELES COUNTY,CA,31080,1299000,1,1,1\n"
        "17,031,17031,COOK COUNTY,IL,16980,860000,1,1,1\n"
    )
    out = StringIO()
    call_command("load_loan_limits", str(path), "--year", "2027", stdout=out)
    assert "2027: 2 counties written" in out.getvalue()
    call_command("load_loan_limits", str(path), "--year", "2027", stdout=out)
    assert "2027: 0 counties written" in out.getvalue()
    assert limits.conforming_limit(county_fips="17031", as_of=dt.date(2027, 3, 1)) == D("860000")
    assert limits.conforming_limit(county_fips="", as_of=dt.date(2027, 3, 1)) == D("832750")  # no 2027 baseline


def test_load_command_refuses_a_bad_file_whole(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("county_fips,state,county_name,limit_1_unit\n06037,CA,LOS ANGELES COUNTY,abc\n")
    with pytest.raises(CommandError, match="line 2"):
        call_command("load_loan_limits", str(path), "--year", "2027")
    assert not LoanLimit.objects.filter(year=2027).exists()


def test_assign_counties_to_loans_imported_before(tmp_path, officer):
    loan = LoanFactory(loan_officer=officer, property_zip="90001")
    call_command("load_loan_limits", str(geo.FHFA_2026), "--year", "2026", "--assign-counties", stdout=StringIO())
    loan.refresh_from_db()
    assert loan.property_county_fips == "06037"
