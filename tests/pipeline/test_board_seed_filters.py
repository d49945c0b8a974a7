"""The board filters the seed's rate-alert campaign needs: note date within N months, minimum spread."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from tests.factories import LoanFactory, OpportunityFactory

pytestmark = pytest.mark.django_db

BOARD = reverse("pipeline:board")


@pytest.fixture(autouse=True)
def _today():  # type: ignore[no-untyped-def]
    with time_machine.travel(dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC), tick=False):
        yield


def _opportunity(officer, note_date, spread):  # type: ignore[no-untyped-def]
    loan = LoanFactory(loan_officer=officer, note_date=note_date, first_payment_date=note_date + dt.timedelta(days=46))
    return OpportunityFactory(loan=loan, spread=Decimal(spread))


def test_note_date_within_months_and_min_spread_combine(officer, officer_client):
    recent = _opportunity(officer, dt.date(2023, 11, 23), "0.750")  # exactly 36 months before today
    _opportunity(officer, dt.date(2023, 11, 22), "1.500")  # one day too old
    _opportunity(officer, dt.date(2025, 1, 10), "0.749")  # spread just below
    response = officer_client.get(BOARD, {"note_within_months": "36", "min_spread": "0.75"})
    assert [o.pk for o in response.context["table"].data] == [recent.pk]


@pytest.mark.parametrize("query", [{"note_within_months": "1.5"}, {"note_within_months": "0"}, {"min_spread": "x"}])
def test_bad_values_are_field_errors(officer_client, query):
    response = officer_client.get(BOARD, query)
    assert response.status_code == 200
    assert response.context["filter"].errors


def test_only_managers_get_the_campaign_button(officer_client, manager_client):
    assert b"Create campaign from these filters" not in officer_client.get(BOARD).content
    content = manager_client.get(BOARD, {"min_spread": "0.75"}).content
    assert b'href="/campaigns/new/?' in content and b"min_spread=0.75" in content
