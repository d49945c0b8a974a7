"""A branch manager's rate-alert campaign in a real browser: from the board's filters to a sent campaign, at
desktop width and on a 390 px phone (no sideways scrolling)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from campaigns.selectors import campaign_messages
from tests.factories import BranchManagerFactory, LoanFactory, LoanOfficerFactory, OpportunityFactory, UserFactory
from tests.outreach.conftest import fresh_rates

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def accessibility_problems(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical violations on the page (labels, names, roles, contrast)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}" for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]


def make_book(username: str):  # type: ignore[no-untyped-def]
    officer = LoanOfficerFactory(display_name="Laura Officer")
    BranchManagerFactory(user=UserFactory(username=username), branch=officer.branch, organization=officer.organization)
    fresh_rates(officer.organization)
    recent = {"note_date": dt.date.today() - dt.timedelta(days=400)}
    recent["first_payment_date"] = recent["note_date"] + dt.timedelta(days=45)
    for i, spread in enumerate(["1.125", "0.900", "0.500"]):
        OpportunityFactory(
            loan=LoanFactory(
                loan_officer=officer,
                loan_number=f"CAMP-{i}",
                borrower__first_name=f"<b>Bo{i}</b>",
                borrower__last_name="Tester",
                **recent,
            ),
            spread=Decimal(spread),
        )
    OpportunityFactory(loan=LoanFactory(loan_officer=officer, borrower__email_consent=False, **recent))


@pytest.mark.parametrize("width", [1366, 390])
def test_manager_creates_and_sends_a_campaign_from_board_filters(page, live_server, width):
    username = f"bm.campaign.{width}"
    make_book(username)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pass-12345")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/board/$"))

    page.get_by_label("Closed within (months)").fill("36")
    page.get_by_label("Min spread (pts)").fill("0.75")
    page.get_by_label("Min spread (pts)").press("Enter")
    expect(page).to_have_url(re.compile(r"min_spread=0.75"))
    expect(page.get_by_test_id("summary-count")).to_have_text("3")  # the non-consenting one is on the board
    page.get_by_test_id("create-campaign").click()

    expect(page).to_have_url(re.compile(r"/campaigns/new/\?.*min_spread=0.75"))
    expect(page.get_by_test_id("recipient-count")).to_contain_text("2 consenting recipients")
    expect(page.get_by_test_id("preview-body")).to_contain_text("<b>Bo")  # shown as text, not markup
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert accessibility_problems(page) == []
    page.get_by_label("Name").fill("Rates fell this month")
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Rates fell this month")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Sent")
    expect(page.get_by_test_id("stat-recipients")).to_have_text("2")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert accessibility_problems(page) == []

    campaign = Campaign.objects.get(name="Rates fell this month")
    assert campaign_messages(campaign).count() == 2
    page.get_by_role("link", name="All campaigns").click()
    expect(page.get_by_role("link", name="Rates fell this month")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
