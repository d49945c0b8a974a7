from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from loans.models import Activity, Opportunity
from loans.services.matching import match_organization
from tests.factories import LoanFactory, RateObservationFactory, RateSeriesFactory, SeriesMappingFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 22)


def price(org, *, product="conforming", term=360, code="OBMMIC30YF", rate="6.125", date=dt.date(2026, 11, 20)):
    series = RateSeriesFactory(code=code, product_type=product, term_months=term)
    SeriesMappingFactory(organization=org, product_type=product, term_months=term, series=series)
    return RateObservationFactory(series=series, date=date, rate=Decimal(rate))


def test_smoke(officer):
    org = officer.organization
    price(org)
    loan = LoanFactory(loan_officer=officer)
    run = match_organization(organization=org, as_of=AS_OF)
    opp = Opportunity.objects.get(loan=loan)
    print(run.__dict__)
    print({f.name: getattr(opp, f.name) for f in Opportunity._meta.fields})
    print(list(Activity.objects.values("kind", "body", "data")))
    run2 = match_organization(organization=org, as_of=AS_OF)
    print(run2.__dict__)
    assert 0
