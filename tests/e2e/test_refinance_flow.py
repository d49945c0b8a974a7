"""Initiate a refinance in a real browser: the live preview, a rule that fails beside its field, then success."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from outreach.models import Enrollment
from outreach.services import enrollment_create, sequence_ensure_default
from pipeline.models import Activity, Opportunity
from refinance.models import RefinanceTransaction
from tests.factories import LoanOfficerFactory, LoanProductFactory, OpportunityFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_loan_officer_initiates_a_refinance_and_outreach_stops(page, live_server):
    officer = LoanOfficerFactory(user=UserFactory(username="lo.refi"), display_name="Rita Refi")
    opportunity = OpportunityFactory(
        loan__loan_officer=officer,
        loan__loan_number="E2E-REFI",
        loan__property_value=Decimal("520000.00"),
        stage=Opportunity.Stage.ENGAGED,
    )
    LoanProductFactory(organization=opportunity.organization)  # CONF30, max LTV 97 % rate-term
    sequence_ensure_default(organization=opportunity.organization)
    enrollment = enrollment_create(opportunity=opportunity, actor=officer.user)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("lo.refi")
    page.get_by_label("Password").fill("pass-12345")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/board/$"))

    page.goto(f"{live_server.url}/opportunities/{opportunity.pk}/")
    page.get_by_role("link", name="Initiate refinance").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Initiate refinance")
    prefilled = page.get_by_label("New loan amount ($)").input_value()
    assert Decimal(prefilled) > Decimal("387493.18")  # payoff plus the financed closing costs

    # The preview recalculates as the amount changes (htmx), and a failing rule is listed beside its field.
    amount = page.get_by_label("New loan amount ($)")
    amount.fill("600000.00")
    expect(page.locator("#refinance-numbers")).to_contain_text("LTV115.385%")
    page.get_by_role("button", name="Initiate refinance").click()
    expect(page.locator("#id_new_amount_errors")).to_contain_text("Insufficient collateral")
    assert not RefinanceTransaction.objects.exists()

    page.get_by_label("New loan amount ($)").fill(prefilled)
    page.get_by_role("button", name="Initiate refinance").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refinance RT-")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Initiated")

    refinance = RefinanceTransaction.objects.get()
    assert (refinance.existing_loan_id, refinance.new_amount, refinance.initiated_by) == (
        opportunity.loan_id,
        Decimal(prefilled),
        officer.user,
    )
    page.goto(f"{live_server.url}/opportunities/{opportunity.pk}/")
    expect(page.locator("body")).to_contain_text("Refinance initiated")
    opportunity.refresh_from_db()
    enrollment.refresh_from_db()
    assert opportunity.stage == Opportunity.Stage.APPLICATION
    assert (enrollment.status, enrollment.stop_reason) == (Enrollment.Status.STOPPED, "application")
    assert Activity.objects.filter(opportunity=opportunity, kind="refinance_initiated", actor=officer.user).exists()
