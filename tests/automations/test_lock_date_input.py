"""The refinance's optional rate-lock expiration: the form and the command API take it, store it, and refuse a
bad or out-of-range date with a field error (never a 500)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from refinance.api.tokens import api_token_create
from refinance.models import RefinanceTransaction
from tests.conftest import client_for
from tests.factories import LoanFactory, LoanProductFactory, OpportunityFactory, OrgAdminFactory

pytestmark = pytest.mark.django_db
DATE_ERROR = "Must be an ISO 8601 date or date-time, e.g. 2026-12-22 or 2026-12-22T15:00:00Z."


@pytest.fixture(autouse=True)
def frozen_time():
    cache.clear()
    with time_machine.travel(dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC), tick=False):
        yield
    cache.clear()


@pytest.fixture
def opportunity(officer):  # type: ignore[no-untyped-def]
    loan = LoanFactory(loan_officer=officer, loan_number="LN-12345")
    LoanProductFactory(organization=loan.organization)
    return OpportunityFactory(loan=loan, stage="appointment")


def api_call(officer, **data):  # type: ignore[no-untyped-def]
    admin = OrgAdminFactory(organization=officer.organization)
    _, raw = api_token_create(organization=officer.organization, user=admin.user, name="LOS")
    body = {
        "existingLoanId": "LN-12345", "newLoanProductId": "CONF30", "newLoanAmount": 395000.00,
        "newInterestRate": 6.125, "newTermMonths": 360, "refinanceReason": "Lower interest rate",
        "effectiveDate": "2026-12-22", **data,
    }  # fmt: skip
    return Client().post(
        "/api/bpm/cmd",
        json.dumps({"cmd": "InitiateLoanRefinanceCommand", "data": body}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}", "X-Tenant-ID": officer.organization.slug},
    )


def test_api_stores_the_lock_expiration(officer, opportunity):
    response = api_call(officer, rateLockExpirationDate="2026-12-18")
    assert response.status_code == 200, response.json()
    assert RefinanceTransaction.objects.get().rate_lock_expiration == dt.date(2026, 12, 18)


def test_api_without_it_stores_none(officer, opportunity):
    assert api_call(officer, rateLockExpirationDate=None).status_code == 200
    assert RefinanceTransaction.objects.get().rate_lock_expiration is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9999-12-31", "Must be between 2000-01-01 and 2100-12-31."),
        ("99999-01-01", DATE_ERROR),
        ("2026-02-30", DATE_ERROR),
        ("next friday", DATE_ERROR),
        (20261218, DATE_ERROR),
    ],
)
def test_api_bad_lock_dates_are_field_errors(officer, opportunity, value, message):
    response = api_call(officer, rateLockExpirationDate=value)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "rateLockExpirationDate", "message": message}]
    assert not RefinanceTransaction.objects.exists()


def form_data(opportunity, **overrides):  # type: ignore[no-untyped-def]
    return {
        "product": opportunity.loan.organization.products.get(code="CONF30").pk, "new_amount": "395000.00",
        "new_rate": "6.125", "new_term_months": "360", "effective_date": "2026-12-22", "cash_out_amount": "0",
        "reason": "Lower interest rate", "notes": "", "submission_token": "a" * 32, **overrides,
    }  # fmt: skip


def test_form_takes_the_lock_expiration_and_refuses_year_9999(officer, opportunity):
    url = reverse("refinance:initiate", args=[opportunity.pk])
    client = client_for(officer)
    bad = client.post(url, form_data(opportunity, rate_lock_expiration="9999-12-31"))
    assert bad.status_code == 200 and "Must be between 2000-01-01 and 2100-12-31." in bad.content.decode()
    garbage = client.post(url, form_data(opportunity, rate_lock_expiration="31/31/2026"))
    assert garbage.status_code == 200 and "Enter a valid date." in garbage.content.decode()
    assert not RefinanceTransaction.objects.exists()
    good = client.post(url, form_data(opportunity, rate_lock_expiration="2026-12-18"))
    assert good.status_code == 302
    refinance = RefinanceTransaction.objects.get()
    assert refinance.rate_lock_expiration == dt.date(2026, 12, 18)
    assert "Rate lock expires" in client.get(reverse("refinance:detail", args=[refinance.pk])).content.decode()


@pytest.mark.parametrize(("value", "when"), [("2026-11-21", "yesterday"), ("2099-06-01", "far beyond the horizon")])
def test_a_lock_already_expired_or_beyond_the_horizon_is_refused(officer, opportunity, value, when):
    """Today is 2026-11-22 and the horizon 90 days (to 2027-02-20): a lock outside is never alerted on."""
    message = (
        f"The rate lock expiration {value} must be between today (2026-11-22) and the end of the rate-lock horizon "
        "of 90 days (2027-02-20)."
    )
    form = client_for(officer).post(
        reverse("refinance:initiate", args=[opportunity.pk]), form_data(opportunity, rate_lock_expiration=value)
    )
    assert form.status_code == 200 and message in form.content.decode(), when
    api = api_call(officer, rateLockExpirationDate=value)
    assert api.status_code == 422 and api.json()["errors"] == [message]
    assert not RefinanceTransaction.objects.exists()
    assert api_call(officer, rateLockExpirationDate="2027-02-20").status_code == 200  # the horizon's last day
