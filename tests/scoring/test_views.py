from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from pipeline.models import Opportunity
from reports.periods import Period
from reports.selectors import report_build
from scoring.services.scores import opportunities_score
from scoring.services.training import propensity_train
from tests.conftest import client_for
from tests.factories import (
    ActivityFactory,
    BranchManagerFactory,
    LoanFactory,
    LoanOfficerFactory,
    OpportunityFactory,
    OrgAdminFactory,
)
from tests.scoring.conftest import NOW, synthetic_history

BOARD = reverse("pipeline:board")
MODEL = reverse("scoring:model")


def records(response) -> list[Opportunity]:  # type: ignore[no-untyped-def]
    return [row.record for row in response.context["table"].paginated_rows]


@pytest.fixture
def scored(frozen, hpi, officer):  # type: ignore[no-untyped-def]
    """Three scored opportunities of the officer (engaged > plain), one contacted today, and one unscored."""
    engaged = OpportunityFactory(loan=LoanFactory(loan_officer=officer, borrower__last_name="Engaged"))
    ActivityFactory(opportunity=engaged, kind="clicked", occurred_at=NOW - dt.timedelta(days=2))
    ActivityFactory(opportunity=engaged, kind="replied", occurred_at=NOW - dt.timedelta(days=2))
    plain = OpportunityFactory(loan=LoanFactory(loan_officer=officer, borrower__last_name="Plain"))
    called = OpportunityFactory(
        loan=LoanFactory(loan_officer=officer, borrower__last_name="Called"), last_contacted_at=NOW
    )
    ActivityFactory(opportunity=called, kind="clicked", occurred_at=NOW - dt.timedelta(days=2))
    opportunities_score(organization=officer.organization)
    unscored = OpportunityFactory(loan=LoanFactory(loan_officer=officer, borrower__last_name="Unscored"))
    return engaged, plain, called, unscored


def test_board_sorts_by_score_with_the_unscored_last(scored, officer_client):
    engaged, plain, called, unscored = scored
    descending = records(officer_client.get(BOARD, {"sort": "-score"}))
    assert descending[-1] == unscored and descending.index(engaged) < descending.index(plain)
    assert records(officer_client.get(BOARD, {"sort": "score"}))[-1] == unscored
    page = officer_client.get(BOARD).content.decode()
    assert "Est. value (FHFA index)" in page and "FHFA house price index estimate, 2024 Q4" in page


def test_board_filters_by_minimum_score(scored, officer_client):
    engaged, plain, called, _ = scored
    threshold = (plain.__class__.objects.get(pk=plain.pk).score * 100) + 0.5
    shown = records(officer_client.get(BOARD, {"min_score": f"{threshold:.1f}"}))
    assert engaged in shown and plain not in shown


def test_call_first_is_the_highest_scores_not_contacted_today(scored, officer_client):
    engaged, plain, called, unscored = scored
    shown = records(officer_client.get(BOARD, {"preset": "call_first"}))
    assert shown == [engaged, plain]  # highest score first; contacted today and unscored left out
    assert 'data-testid="call-first"' in officer_client.get(BOARD).content.decode()


def test_opportunity_page_says_why_in_words(scored, officer_client):
    engaged = scored[0]
    page = officer_client.get(reverse("pipeline:opportunity_detail", args=[engaged.pk])).content.decode()
    assert "Why this score" in page and "Prior weights" in page
    assert "replied 1 time in 90 days" in page and "clicked 1 link in 90 days" in page
    assert "+++" in page  # a reply and a click weigh heavily
    assert "FHFA house price index estimate, 2024 Q4" in page and "Cash-out room" in page


def test_another_officers_opportunity_page_is_404(scored, officer):
    colleague = LoanOfficerFactory(branch=officer.branch, organization=officer.organization)
    response = client_for(colleague).get(reverse("pipeline:opportunity_detail", args=[scored[0].pk]))
    assert response.status_code == 404


def test_a_branch_manager_sees_the_branch_board_scores_only(scored, officer):
    other_branch = LoanOfficerFactory(organization=officer.organization)
    theirs = OpportunityFactory(loan=LoanFactory(loan_officer=other_branch))
    manager = BranchManagerFactory(branch=officer.branch, organization=officer.organization)
    shown = records(client_for(manager).get(BOARD, {"preset": "call_first"}))
    assert theirs not in shown and scored[0] in shown


def test_model_page_is_for_managers_only(scored, officer, officer_client):
    assert officer_client.get(MODEL).status_code == 403
    manager = BranchManagerFactory(branch=officer.branch, organization=officer.organization)
    page = client_for(manager).get(MODEL)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Prior weights in use" in body and "once it has 200 of them with 20 applications" in body
    assert "Coefficients" in body


def test_model_page_shows_validation_and_the_savings_comparison(frozen, hpi, officer):
    synthetic_history(officer, count=300)
    model = propensity_train(organization=officer.organization).model
    admin = OrgAdminFactory(organization=officer.organization)
    body = client_for(admin).get(MODEL).content.decode()
    assert f"{model.holdout_auc:.3f}" in body and "Calibration on the holdout" in body
    c = model.comparison
    assert f"the top 20 % by score held <strong>{c['model_top']}</strong>" in body
    assert f"by lifetime savings (the board's default order) held <strong>{c['savings_top']}</strong>" in body


def test_model_page_shows_only_the_users_organization(scored, officer):
    other = OrgAdminFactory()
    propensity_train(organization=other.organization)
    body = client_for(other).get(MODEL).content.decode()
    assert other.organization.name in body and officer.organization.name not in body


def test_reports_show_conversion_by_score_decile(frozen, hpi, officer):
    opportunities = synthetic_history(officer, count=120)
    Opportunity.objects.filter(pk__in=[o.pk for o in opportunities]).update(first_matched_at=NOW - dt.timedelta(days=3))
    opportunities_score(organization=officer.organization)  # scores the ones before application; the rest stay empty
    admin = OrgAdminFactory(organization=officer.organization)
    period = Period(start=NOW.date() - dt.timedelta(days=6), end=NOW.date(), timezone=officer.organization.timezone)
    deciles = report_build(user=admin.user, period=period).deciles
    scored = [row for row in deciles if row.key != "unscored"]
    assert [row.key for row in scored] == [str(n) for n in range(1, 11)]
    assert scored[0].low >= scored[1].high  # decile 1 holds the highest scores
    total = sum(row.identified for row in deciles)
    assert total == 120 and deciles[-1].key == "unscored"
    assert deciles[-1].application == deciles[-1].identified  # unscored = those already at application
    page = client_for(admin).get(reverse("reports:report")).content.decode()
    assert "Conversion by score decile" in page
