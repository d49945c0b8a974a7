from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from core.models import ApiToken
from loans.models import Loan
from pipeline.models import Activity, Opportunity
from refinance.api.tokens import token_hash
from refinance.models import RefinanceTransaction
from refinance.services import refinance_initiate
from tests.conftest import client_for
from tests.factories import (
    LoanFactory,
    LoanOfficerFactory,
    LoanProductFactory,
    OpportunityFactory,
    OrgAdminFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def opportunity(officer):
    loan = LoanFactory(loan_officer=officer, loan_number="LN-12345")
    LoanProductFactory(organization=loan.organization)
    return OpportunityFactory(loan=loan, stage=Opportunity.Stage.APPOINTMENT)


def url(opportunity) -> str:
    return reverse("refinance:initiate", args=[opportunity.pk])


def form_data(opportunity, **overrides):
    data = {
        "product": opportunity.loan.organization.products.get(code="CONF30").pk,
        "new_amount": "395000.00",
        "new_rate": "6.125",
        "new_term_months": "360",
        "effective_date": "2026-12-22",
        "cash_out_amount": "0",
        "reason": "Lower interest rate",
        "notes": "",
        "submission_token": "a" * 32,
    }
    data.update(overrides)
    return data


def errors_of(html: str, field: str) -> list[str]:
    match = re.search(rf'<ul class="errorlist" id="id_{field}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", match.group(1), re.S) if match else []


# --- The form ------------------------------------------------------------------------------------------------


def test_form_is_prefilled_from_the_match(officer_client, opportunity):
    response = officer_client.get(url(opportunity))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["product"].code == "CONF30"
    assert (form.initial["new_amount"], form.initial["new_rate"], form.initial["new_term_months"]) == (
        Decimal("394161.91"),
        Decimal("6.125"),  # the opportunity's market rate: no rate series in this test
        360,
    )
    assert form.initial["effective_date"] == dt.date(2026, 12, 22)
    html = response.content.decode()
    assert "$388,720.29" in html  # payoff
    assert "Every business rule passes" in html
    assert f'hx-get="/opportunities/{opportunity.pk}/refinance/preview/"' in html


def test_preview_recalculates_as_fields_change(officer_client, opportunity):
    params = form_data(opportunity, new_amount="400000.00", new_rate="5.875", cash_out_amount="5000")
    response = officer_client.get(reverse("refinance:preview", args=[opportunity.pk]), params)
    assert response.status_code == 200
    quote = response.context["quote"]
    assert (quote.closing_costs, quote.ltv, quote.new_payment, quote.monthly_savings) == (
        Decimal("5500.00"),
        Decimal("76.923"),
        Decimal("2366.15"),
        Decimal("362.56"),
    )
    html = response.content.decode()
    assert "<html" not in html  # a partial
    for shown in ("$5,500.00", "76.923%", "$2,366.15", "$362.56", "$388,720.29"):
        assert shown in html
    failing = officer_client.get(
        reverse("refinance:preview", args=[opportunity.pk]), form_data(opportunity, new_amount="300000.00")
    )
    assert "does not pay off the existing loan in full" in failing.content.decode()


def test_submit_initiates_and_moves_the_opportunity_to_application(officer_client, officer, opportunity):
    response = officer_client.post(url(opportunity), form_data(opportunity, notes="Borrower said yes"))
    refinance = RefinanceTransaction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("refinance:detail", args=[refinance.pk])
    assert (refinance.initiated_by, refinance.opportunity, refinance.notes) == (
        officer.user,
        opportunity,
        "Borrower said yes",
    )
    opportunity.refresh_from_db()
    assert opportunity.stage == "application"
    timeline = Activity.objects.filter(opportunity=opportunity).order_by("pk")
    assert [(a.kind, a.actor) for a in timeline] == [
        ("refinance_initiated", officer.user),
        ("stage_change", officer.user),
    ]
    detail = officer_client.get(response["Location"])
    html = detail.content.decode()
    assert refinance.reference in html
    assert "LN-12345-R1" in html
    assert "Initiated from the opportunity page." in html


def test_failing_rules_are_listed_next_to_their_fields(officer_client, opportunity):
    Loan.objects.filter(pk=opportunity.loan_id).update(credit_score=600)
    response = officer_client.post(
        url(opportunity),
        form_data(opportunity, new_amount="390000.00", new_term_months="180", effective_date="2026-11-01"),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert errors_of(html, "new_amount") == [
        "The new loan amount of $390,000.00 does not pay off the existing loan in full: it must be at least "
        "$392,922.40 (payoff $387,493.18 + closing costs $5,429.22 + cash-out $0.00)."
    ]
    assert errors_of(html, "new_term_months") == [
        "Loan product CONF30 has a 360-month term; the new term is 180 months."
    ]
    assert errors_of(html, "effective_date") == [
        "The effective date 2026-11-01 is in the past (today is 2026-11-22 in America/Chicago)."
    ]
    assert response.context["form"].non_field_errors() == [
        "The borrower's credit score of 600 is below loan product CONF30's minimum of 620."
    ]
    assert "This refinance cannot go ahead" in html
    assert not RefinanceTransaction.objects.exists()
    opportunity.refresh_from_db()
    assert opportunity.stage == "appointment"


def test_type_errors_are_reported_by_the_form(officer_client, opportunity):
    response = officer_client.post(url(opportunity), form_data(opportunity, new_amount="-5", new_rate="abc"))
    html = response.content.decode()
    assert errors_of(html, "new_amount") == ["Ensure this value is greater than or equal to 0.01."]
    assert errors_of(html, "new_rate") == ["Enter a number."]
    assert not RefinanceTransaction.objects.exists()


def test_double_submit_of_the_same_form_creates_one_refinance(officer_client, opportunity):
    first = officer_client.post(url(opportunity), form_data(opportunity))
    second = officer_client.post(url(opportunity), form_data(opportunity))
    assert RefinanceTransaction.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_a_new_form_while_a_refinance_is_in_progress_says_so(officer_client, officer, opportunity):
    officer_client.post(url(opportunity), form_data(opportunity))
    refinance = RefinanceTransaction.objects.get()
    html = officer_client.get(url(opportunity)).content.decode()
    assert f'Refinance <a href="{reverse("refinance:detail", args=[refinance.pk])}">{refinance.reference}</a>' in html
    assert 'id="refinance-form"' not in html
    # Another form (another submission token) is refused by the rules.
    response = officer_client.post(url(opportunity), form_data(opportunity, submission_token="b" * 32))
    assert response.context["form"].non_field_errors() == [
        f"Loan LN-12345 is already being refinanced (refinance {refinance.reference})."
    ]


def test_closed_opportunity_cannot_initiate(officer_client, opportunity):
    Opportunity.objects.filter(pk=opportunity.pk).update(stage=Opportunity.Stage.LOST)
    assert "it is closed" in officer_client.get(url(opportunity)).content.decode()
    response = officer_client.post(url(opportunity), form_data(opportunity))
    assert response.status_code == 200
    assert not RefinanceTransaction.objects.exists()


def test_other_tenants_and_colleagues_opportunities_are_404(officer_client, officer, opportunity):
    foreign = OpportunityFactory()
    colleague = OpportunityFactory(
        loan__loan_officer=LoanOfficerFactory(branch=officer.branch, organization=officer.organization)
    )
    for other in (foreign, colleague):
        assert officer_client.get(url(other)).status_code == 404
        assert officer_client.post(url(other), form_data(opportunity)).status_code == 404
        assert officer_client.get(reverse("refinance:preview", args=[other.pk])).status_code == 404
    assert not RefinanceTransaction.objects.exists()


def test_refinance_detail_is_tenant_scoped(officer_client, opportunity):
    other_loan = LoanFactory(loan_number="LN-OTHER")
    LoanProductFactory(organization=other_loan.organization)
    foreign = refinance_initiate(
        loan=other_loan,
        product_code="CONF30",
        new_amount=Decimal("395000.00"),
        new_rate=Decimal("6.125"),
        new_term_months=360,
        reason="x",
        effective_date=dt.date(2026, 12, 22),
    )
    assert officer_client.get(reverse("refinance:detail", args=[foreign.pk])).status_code == 404


def test_login_is_required(client, opportunity):
    response = client.get(url(opportunity))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- Admin ---------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(manager):
    manager.user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=("core", "loans", "pipeline", "refinance"))
    )
    return client_for(manager)


def act(client, action: str, refinance) -> str:
    response = client.post(
        reverse("admin:refinance_refinancetransaction_changelist"),
        {"action": action, "_selected_action": [refinance.pk]},
        follow=True,
    )
    return response.content.decode()


def test_manager_approves_funds_and_audits_in_admin(officer_client, admin_client, manager, opportunity):
    officer_client.post(url(opportunity), form_data(opportunity))
    refinance = RefinanceTransaction.objects.get()
    assert "cannot be funded" in act(admin_client, "fund", refinance)
    assert "1 refinance(s) approved." in act(admin_client, "approve", refinance)
    assert "1 refinance(s) funded." in act(admin_client, "fund", refinance)
    refinance.refresh_from_db()
    assert refinance.status == "funded"
    assert Loan.objects.get(pk=refinance.new_loan_id).status == "active"
    assert Loan.objects.get(pk=opportunity.loan_id).status == "refinanced"
    assert list(refinance.events.values_list("to_status", "actor")) == [
        ("initiated", opportunity.loan.loan_officer.user_id),
        ("approved", manager.user_id),
        ("funded", manager.user_id),
    ]
    page = admin_client.get(reverse("admin:refinance_refinancetransaction_change", args=[refinance.pk]))
    assert page.status_code == 200


def test_manager_cancels_in_admin(officer_client, admin_client, opportunity):
    officer_client.post(url(opportunity), form_data(opportunity))
    refinance = RefinanceTransaction.objects.get()
    assert "1 refinance(s) cancelled." in act(admin_client, "cancel", refinance)
    refinance.refresh_from_db()
    assert (refinance.status, refinance.new_loan.status) == ("cancelled", "closed")


def test_admin_lists_only_the_managers_refinances(admin_client, opportunity):
    other_loan = LoanFactory(loan_number="LN-ELSEWHERE")
    LoanProductFactory(organization=other_loan.organization)
    refinance_initiate(
        loan=other_loan,
        product_code="CONF30",
        new_amount=Decimal("395000.00"),
        new_rate=Decimal("6.125"),
        new_term_months=360,
        reason="x",
        effective_date=dt.date(2026, 12, 22),
    )
    html = admin_client.get(reverse("admin:refinance_refinancetransaction_changelist")).content.decode()
    assert "LN-ELSEWHERE" not in html


def test_api_token_is_shown_once_and_stored_hashed(admin_client, manager, officer):
    outsider = OrgAdminFactory()  # another organization's staff
    add_url = reverse("admin:core_apitoken_add")
    form = admin_client.get(add_url).content.decode()
    assert officer.user.username in form
    assert outsider.user.username not in form

    response = admin_client.post(add_url, {"name": "LOS sync", "user": officer.user.pk})
    assert response.status_code == 200
    raw = re.search(r'<code id="api-token"[^>]*>(rfa_[^<]+)</code>', response.content.decode()).group(1)
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    assert (token.token_hash, token.prefix, token.organization, token.user) == (
        token_hash(raw),
        raw[:12],
        manager.organization,
        officer.user,
    )
    change = admin_client.get(reverse("admin:core_apitoken_change", args=[token.pk])).content.decode()
    listing = admin_client.get(reverse("admin:core_apitoken_changelist")).content.decode()
    assert raw not in change and raw not in listing
    assert token.prefix in listing

    admin_client.post(reverse("admin:core_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_api_token_for_another_orgs_user_is_refused(admin_client):
    outsider = OrgAdminFactory()
    response = admin_client.post(reverse("admin:core_apitoken_add"), {"name": "x", "user": outsider.user.pk})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
