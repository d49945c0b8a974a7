"""Security in a real browser: the borrower's "Request a call" works signed out (the CSRF Origin check passes
with the page's Referrer-Policy), and the app's pages run under the Content-Security-Policy with no violation
and no console error."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outreach.models import BookingRequest, Enrollment
from outreach.rendering import page_token
from outreach.services import enrollment_create, sequence_ensure_default
from pipeline.models import Activity, Opportunity
from tests.factories import LoanOfficerFactory, OpportunityFactory, UserFactory
from tests.outreach.conftest import fresh_rates

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Listens before any page script runs (Playwright's init scripts are not subject to the page's policy).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def watched(page):  # type: ignore[no-untyped-def]
    """The page, with every console error and CSP violation collected."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.add_init_script(RECORD_VIOLATIONS)
    page.errors = errors
    return page


def violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.evaluate("window.__cspViolations || []")


def enrolled_opportunity(officer):  # type: ignore[no-untyped-def]
    opportunity = OpportunityFactory(loan__loan_officer=officer, loan__borrower__first_name="Ana")
    fresh_rates(opportunity.organization, date=timezone.localdate())
    sequence_ensure_default(organization=opportunity.organization)
    enrollment = enrollment_create(opportunity=opportunity)
    return opportunity, enrollment


def test_signed_out_borrower_requests_a_call_on_a_phone(watched, live_server):
    page = watched
    officer = LoanOfficerFactory(display_name="Laura Officer")
    opportunity, enrollment = enrolled_opportunity(officer)
    page.set_viewport_size({"width": 390, "height": 844})
    response = page.goto(f"{live_server.url}/r/{page_token(opportunity_id=opportunity.pk, message_id=None)}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hi Ana")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling

    page.get_by_label("Phone number").fill("(312) 555-0199")
    page.get_by_label("Evening (5–8)").check()
    page.get_by_role("button", name="Request a call").click()
    expect(page.get_by_role("status")).to_contain_text("Laura Officer will call you")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    booking = BookingRequest.objects.get()
    assert (booking.opportunity_id, booking.phone, booking.preferred_windows) == (
        opportunity.pk,
        "+13125550199",
        ["evening"],
    )
    enrollment.refresh_from_db()
    opportunity.refresh_from_db()
    # engagement pauses the sequence for the loan officer (it does not end it): they resume or close it
    assert (enrollment.status, enrollment.stop_reason) == (Enrollment.Status.PAUSED, "booked")
    assert opportunity.stage == Opportunity.Stage.APPOINTMENT
    assert Activity.objects.filter(opportunity=opportunity, kind="booked").count() == 1
    assert page.errors == [] and violations(page) == []
    assert response.headers["referrer-policy"] == "same-origin"  # no-referrer made browsers post "Origin: null"
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_apps_pages_satisfy_the_content_security_policy(watched, live_server):
    page = watched
    officer = LoanOfficerFactory(user=UserFactory(username="lo.csp"), display_name="Casey Policy")
    opportunity, _ = enrolled_opportunity(officer)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("lo.csp")
    page.get_by_label("Password").fill("pass-12345")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/board/$"))
    expect(page.locator("#board-table tbody tr")).to_have_count(1)
    # An htmx swap (sorting) runs under the policy too.
    page.locator("#board-table thead").get_by_role("link", name="Monthly savings").click()
    expect(page).to_have_url(re.compile(r"sort=monthly_savings"))
    checked = {"/board/": violations(page)}

    pages = {
        f"/opportunities/{opportunity.pk}/": "#chart-controls",  # Chart.js and opportunity.js ran
        "/rates/": "canvas",
        "/reports/": "h1",
        f"/r/{page_token(opportunity_id=opportunity.pk, message_id=None)}/": "form",
    }
    for path, ready in pages.items():
        response = page.goto(f"{live_server.url}{path}")
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        expect(page.locator(ready).first).to_be_visible()
        page.wait_for_load_state("load")
        checked[path] = violations(page)
    assert checked == {path: [] for path in checked}
    assert page.errors == []
