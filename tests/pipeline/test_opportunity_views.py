"""The opportunity page and its actions: what it shows, scoping of every view, stage change, note, archive."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from loans import finance
from loans.models import ConsentEvent
from pipeline.models import Activity, Opportunity
from pipeline.selectors.board import opportunity_chart, opportunity_savings_options
from rates.selectors import market_rates
from tests.conftest import client_for
from tests.factories import (
    ActivityFactory,
    BranchFactory,
    BranchManagerFactory,
    LoanOfficerFactory,
    OpportunityFactory,
    OrgAdminFactory,
    RateObservationFactory,
    RateSeriesFactory,
    SeriesMappingFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def opportunity(officer) -> Opportunity:  # type: ignore[no-untyped-def]
    series = RateSeriesFactory(code="OBMMIC30YF")
    SeriesMappingFactory(organization=officer.organization, series=series)
    RateObservationFactory(series=series, date=dt.date(2026, 11, 20))  # today's rate: fresh
    return OpportunityFactory(
        loan__loan_officer=officer,
        loan__loan_number="LN-7001",
        loan__borrower__first_name="Grace",
        loan__borrower__last_name="Hopper",
    )


def detail(opp: Opportunity) -> str:
    return reverse("pipeline:opportunity_detail", args=[opp.pk])


def action(name: str, opp: Opportunity) -> str:
    return reverse(f"pipeline:opportunity_{name}", args=[opp.pk])


# --- the page ----------------------------------------------------------------------------------------------


def test_page_shows_loan_borrower_consent_savings_threshold_and_timeline(officer, officer_client, opportunity):
    borrower = opportunity.borrower
    borrower.sms_consent = False
    borrower.save()
    ConsentEvent.objects.create(
        organization=opportunity.organization,
        borrower=borrower,
        channel="email",
        action="granted",
        source="Application form",
    )
    ActivityFactory(opportunity=opportunity, body="Left a voicemail about the rate drop.")
    response = officer_client.get(detail(opportunity))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Grace Hopper",
        "LN-7001",
        "$280.48",  # monthly savings
        "$90,869.24",  # total interest savings
        "20 months",  # break-even
        "1.125\xa0pts",  # spread
        "1.020\xa0pts",  # optimal threshold x*
        "0.105\xa0pts above: refinance now",  # spread vs x*
        "0.500\xa0pts above",  # spread vs the flat threshold
        "No consent",  # SMS
        "Application form",  # consent history
        "Left a voicemail about the rate drop.",
        "Same remaining term",
        "New 30-year",
        "New 15-year",
        'id="opportunity-chart"',
        'id="opportunity-chart-data"',
        "Qualifies today",
    ):
        assert text in html, text
    assert "Initiate refinance" in html


def test_initiate_refinance_button_appears_when_its_url_exists(officer_client, opportunity):
    response = officer_client.get(detail(opportunity))
    url = f"/opportunities/{opportunity.pk}/refinance/"
    assert response.context["refinance_url"] == url
    assert f'href="{url}"' in response.content.decode()


def test_stale_rate_attention_and_no_longer_qualifies_are_shown(officer, officer_client):
    opp = OpportunityFactory(
        loan__loan_officer=officer,
        market_rate_date=dt.date(2026, 11, 1),
        qualifies=False,
        attention_reason="Clicked the scheduling link",
        attention_at=NOW,
    )
    html = officer_client.get(detail(opp)).content.decode()
    assert "No longer qualifies" in html
    assert "Needs attention:" in html and "Clicked the scheduling link" in html


def test_a_stale_rate_replaces_qualifies_today_and_says_why_no_message_goes_out(officer, officer_client):
    """Every product's rate is 11 days old: the page must not say "Qualifies today" (it did before issue 12)."""
    series = RateSeriesFactory(code="OBMMIC30YF")
    SeriesMappingFactory(organization=officer.organization, series=series)
    RateObservationFactory(series=series, date=dt.date(2026, 11, 11))
    opp = OpportunityFactory(loan__loan_officer=officer, market_rate_date=dt.date(2026, 11, 11))
    html = officer_client.get(detail(opp)).content.decode()
    assert "Qualifies today" not in html
    assert "Stale rate: qualified on the OBMMIC30YF rate of Nov 11, 2026" in html
    assert "No message goes out." in html
    assert "The Conforming 30-year rate is from Nov 11, 2026, older than 7 days" in html


def test_va_and_fha_flags(officer, officer_client):
    va = OpportunityFactory(loan__loan_officer=officer, loan__product_type="va", product_type="va", va_irrrl_ok=False)
    fha = OpportunityFactory(
        loan__loan_officer=officer, loan__product_type="fha", product_type="fha", fha_streamline_ok=True
    )
    va_html = officer_client.get(detail(va)).content.decode()
    assert "VA IRRRL benefit" in va_html and "Fails the net tangible benefit test" in va_html
    fha_html = officer_client.get(detail(fha)).content.decode()
    assert "FHA streamline benefit" in fha_html and "Combined rate drops" in fha_html
    assert "VA IRRRL" not in fha_html


def test_outreach_panel_shows_enrollment_state_and_enroll_action(officer_client, opportunity):
    html = officer_client.get(detail(opportunity)).content.decode()
    assert 'id="outreach-panel"' in html
    assert "Not enrolled in an outreach sequence." in html
    assert f"/o/opportunities/{opportunity.pk}/enroll/" in html


# --- the numbers -------------------------------------------------------------------------------------------


def test_savings_options_same_term_equals_the_board_numbers_and_new_terms_use_their_rates(opportunity):
    org = opportunity.organization
    series_15 = RateSeriesFactory(code="OBMMIC15YF", term_months=180)
    SeriesMappingFactory(organization=org, series=series_15, term_months=180)
    RateObservationFactory(series=series_15, date=dt.date(2026, 11, 20), rate=Decimal("5.500"))
    options = opportunity_savings_options(
        opportunity=opportunity, rates=market_rates(organization=org, as_of=dt.date(2026, 11, 22))
    )
    same, thirty, fifteen = options
    assert [o.key for o in options] == ["same", "30", "15"]
    assert same.savings.new_payment == opportunity.new_payment == Decimal("2448.23")
    assert same.savings.monthly_savings == opportunity.monthly_savings
    assert same.savings.total_interest_savings == opportunity.total_interest_savings
    assert same.savings.break_even_months == opportunity.break_even_months
    assert same.savings.net_benefit == opportunity.net_benefit
    # No 30-year conforming mapping: priced at the opportunity's market rate.
    assert (thirty.rate, thirty.rate_source, thirty.term_months) == (Decimal("6.125"), "OBMMIC30YF", 360)
    assert thirty.savings.new_payment == Decimal("2354.45")
    assert thirty.savings.monthly_savings == Decimal("374.26")
    assert thirty.savings.total_interest_savings == Decimal("36493.76")
    assert thirty.savings.break_even_months == 15
    # The 15-year term is priced at today's 15-year rate; its payment is higher than today's.
    assert (fifteen.rate, fifteen.rate_source) == (Decimal("5.500"), "OBMMIC15YF")
    expected = finance.payment(principal=Decimal("387493.18"), annual_rate=Decimal("5.500"), months=180)
    assert fifteen.savings.new_payment == expected
    assert fifteen.payment_rise == expected - Decimal("2728.71")
    assert fifteen.savings.break_even_months is None
    assert all(o.savings.closing_costs == Decimal("5374.93") for o in options)


def test_chart_series_start_at_the_balance_end_at_zero_and_total_the_interest(opportunity):
    options = opportunity_savings_options(opportunity=opportunity, rates={})
    chart = opportunity_chart(opportunity=opportunity, options=options)
    assert chart["months"] == list(range(361))
    current = chart["current"]
    assert current["balance"][0] == Decimal("387493.18")
    assert current["balance"][324] == Decimal("0.00")
    assert current["interest"][0] == Decimal("0.00")
    assert current["interest"][324] == options[0].savings.total_interest_current == Decimal("496602.58")
    assert current["interest"][360] == current["interest"][324]
    same = chart["options"]["same"]
    assert same["break_even_month"] == 20
    assert same["interest"][324] == options[0].savings.total_interest_new
    thirty = chart["options"]["30"]
    assert thirty["balance"][360] == Decimal("0.00")
    assert thirty["interest"][360] == options[1].savings.total_interest_new
    assert chart["options"]["15"]["balance"][180] == Decimal("0.00")
    # The balance falls month by month.
    assert all(a >= b for a, b in zip(same["balance"], same["balance"][1:], strict=False))


def test_chart_data_is_embedded_as_json(officer_client, opportunity):
    html = officer_client.get(detail(opportunity)).content.decode()
    start = html.index('<script id="opportunity-chart-data" type="application/json">') + len(
        '<script id="opportunity-chart-data" type="application/json">'
    )
    data = json.loads(html[start : html.index("</script>", start)])
    assert data["options"]["same"]["break_even_month"] == 20
    assert Decimal(data["current"]["balance"][0]) == Decimal("387493.18")
    assert '<script src="/static/js/opportunity.js" defer></script>' in html


# --- scoping -----------------------------------------------------------------------------------------------


def _others(officer):  # type: ignore[no-untyped-def]
    """Opportunities the officer must not reach: a colleague's, another branch's, another organization's."""
    colleague = LoanOfficerFactory(branch=officer.branch, organization=officer.organization)
    other_branch = LoanOfficerFactory(
        branch=BranchFactory(organization=officer.organization), organization=officer.organization
    )
    return [
        OpportunityFactory(loan__loan_officer=colleague),
        OpportunityFactory(loan__loan_officer=other_branch),
        OpportunityFactory(),
    ]


@pytest.mark.parametrize(
    ("method", "name", "data"),
    [
        ("get", "detail", {}),
        ("post", "stage", {"stage": "contacted"}),
        ("post", "note", {"body": "Sneaky"}),
        ("post", "archive", {}),
    ],
)
def test_loan_officer_gets_404_for_every_opportunity_not_theirs(officer, officer_client, method, name, data):
    for other in _others(officer):
        response = getattr(officer_client, method)(action(name, other), data)
        assert response.status_code == 404
        response = getattr(officer_client, method)(action(name, other), data, HTTP_HX_REQUEST="true")
        assert response.status_code == 404
        other.refresh_from_db()
        assert other.stage == "new"
    assert not Activity.objects.exists()


def test_branch_manager_reaches_the_branch_only(officer, manager, manager_client):
    mine = OpportunityFactory(loan__loan_officer=officer)
    colleague, other_branch, other_org = _others(officer)
    assert manager_client.get(detail(mine)).status_code == 200
    assert manager_client.get(detail(colleague)).status_code == 200
    assert manager_client.get(detail(other_branch)).status_code == 404
    assert manager_client.get(detail(other_org)).status_code == 404
    assert manager_client.post(action("stage", other_branch), {"stage": "lost"}).status_code == 404
    assert manager_client.post(action("archive", other_org)).status_code == 404


def test_org_admin_reaches_the_organization_only(officer, org_admin):
    client = client_for(org_admin)
    colleague, other_branch, other_org = _others(officer)
    assert client.get(detail(other_branch)).status_code == 200
    assert client.post(action("note", other_branch), {"body": "Checked"}).status_code == 302
    assert client.get(detail(other_org)).status_code == 404
    assert client.post(action("note", other_org), {"body": "Nope"}).status_code == 404
    assert Activity.objects.filter(opportunity=other_org).count() == 0


def test_manager_of_another_branch_and_admin_of_another_org_get_404(opportunity, officer):
    other_manager = BranchManagerFactory(
        organization=officer.organization, branch=BranchFactory(organization=officer.organization)
    )
    assert client_for(other_manager).get(detail(opportunity)).status_code == 404
    assert client_for(OrgAdminFactory()).get(detail(opportunity)).status_code == 404


def test_anonymous_is_sent_to_login_and_posts_change_nothing(client, opportunity):
    response = client.get(detail(opportunity))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.post(action("stage", opportunity), {"stage": "won"}).status_code == 302
    opportunity.refresh_from_db()
    assert opportunity.stage == "new"


def test_actions_refuse_get(officer_client, opportunity):
    for name in ("stage", "note", "archive"):
        assert officer_client.get(action(name, opportunity)).status_code == 405


# --- actions -----------------------------------------------------------------------------------------------


def test_stage_change_logs_who_and_when_and_shows_in_the_timeline(officer, officer_client, opportunity):
    response = officer_client.post(action("stage", opportunity), {"stage": "contacted", "note": "Called at noon"})
    assert response.status_code == 302
    assert response["Location"] == detail(opportunity)
    opportunity.refresh_from_db()
    assert opportunity.stage == "contacted"
    assert opportunity.stage_changed_at == NOW
    entry = Activity.objects.get(opportunity=opportunity)
    assert (entry.kind, entry.from_stage, entry.to_stage, entry.actor, entry.body, entry.occurred_at) == (
        "stage_change",
        "new",
        "contacted",
        officer.user,
        "Called at noon",
        NOW,
    )
    page = officer_client.get(detail(opportunity)).content.decode()
    assert "Stage set to Contacted." in page
    assert "Stage: New → Contacted" in page
    assert officer.display_name in page


def test_every_stage_can_be_chosen(officer_client, opportunity):
    for stage in ["contacted", "engaged", "appointment", "application", "won", "lost", "archived", "new"]:
        assert officer_client.post(action("stage", opportunity), {"stage": stage}).status_code == 302
        opportunity.refresh_from_db()
        assert opportunity.stage == stage
    assert Activity.objects.filter(opportunity=opportunity, kind="stage_change").count() == 8


def test_stage_change_by_htmx_returns_the_refreshed_workspace(officer, officer_client, opportunity):
    response = officer_client.post(action("stage", opportunity), {"stage": "engaged"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<div id="workspace"' in html
    assert "<html" not in html
    assert 'id="current-stage">Engaged<' in html
    assert "Stage: New → Engaged" in html
    assert "Stage set to Engaged." in html


def test_unknown_stage_is_an_error_and_changes_nothing(officer_client, opportunity):
    response = officer_client.post(action("stage", opportunity), {"stage": "bogus"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    response = officer_client.post(action("stage", opportunity), {"stage": "bogus"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    opportunity.refresh_from_db()
    assert opportunity.stage == "new"
    assert not Activity.objects.exists()


def test_reopening_when_the_loan_has_another_open_opportunity_is_refused(officer_client, officer):
    closed = OpportunityFactory(loan__loan_officer=officer, stage="lost")
    OpportunityFactory(loan=closed.loan)
    response = officer_client.post(action("stage", closed), {"stage": "new"})
    assert response.status_code == 400
    assert "This loan already has another open opportunity." in response.content.decode()
    closed.refresh_from_db()
    assert closed.stage == "lost"


def test_add_note(officer, officer_client, opportunity):
    response = officer_client.post(action("note", opportunity), {"body": "  Prefers texts after 6pm.  "})
    assert response.status_code == 302
    note = Activity.objects.get(opportunity=opportunity)
    assert (note.kind, note.body, note.actor) == ("note", "Prefers texts after 6pm.", officer.user)
    html = officer_client.get(detail(opportunity)).content.decode()
    assert html.count("Prefers texts after 6pm.") == 2  # in the notes list and in the timeline


def test_empty_note_is_refused(officer_client, opportunity):
    response = officer_client.post(action("note", opportunity), {"body": "   "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    response = officer_client.post(action("note", opportunity), {"body": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not Activity.objects.exists()


def test_note_by_htmx(officer_client, opportunity):
    response = officer_client.post(action("note", opportunity), {"body": "Sent the rate sheet"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Sent the rate sheet" in response.content.decode()
    assert "Note added." in response.content.decode()


def test_archive(officer, officer_client, opportunity):
    response = officer_client.post(action("archive", opportunity))
    assert response.status_code == 302
    opportunity.refresh_from_db()
    assert opportunity.stage == "archived"
    entry = Activity.objects.get(opportunity=opportunity)
    assert (entry.from_stage, entry.to_stage, entry.actor) == ("new", "archived", officer.user)
    # Archived opportunities leave the default board and the archive button goes away.
    assert opportunity not in [row.record for row in officer_client.get("/board/").context["table"].paginated_rows]
    assert (
        'action="' + action("archive", opportunity) + '"'
        not in officer_client.get(detail(opportunity)).content.decode()
    )
