"""Every page of the workspace in a real browser, for all four roles: axe-core finds no serious or critical
accessibility violation, no page scrolls sideways on a phone (360, 390, 430 px), the board becomes cards there,
and on a desktop the borrower page shows the officer's email and NMLS line uncut.

Each test seeds the same small lender (``seed``): the database is flushed between browser tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from automations.services.reviews import REVIEW_ATTENTION
from outreach.rendering import page_token
from outreach.services import enrollment_create, sequence_ensure_default
from pipeline.models import Opportunity
from refiapp.onboarding import manager_group_ensure
from tests.factories import (
    BranchFactory,
    BranchManagerFactory,
    LoanOfficerFactory,
    OpportunityFactory,
    OrgAdminFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.outreach.conftest import fresh_rates

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Axe()
BLOCKING = {"serious", "critical"}
PHONES = [360, 390, 430]


@dataclass
class Lender:
    opportunity_id: int
    loan_id: int
    borrower_path: str
    officer_email: str
    officer_nmls: str


def seed() -> Lender:
    """One lender: a branch with an officer and a manager, an org admin, an operator, three opportunities with
    fresh rates, the first enrolled in the default plan (so its outreach panel and borrower page are full)."""
    organization = OrganizationFactory(name="Prairie Home Lending", slug="prairie")
    branch = BranchFactory(organization=organization, name="Springfield")
    officer = LoanOfficerFactory(
        user=UserFactory(username="lo.ws"),
        branch=branch,
        display_name="Laura Officer-Longname",
        email="laura.officer-longname@prairie-home-lending.example.com",
        nmls_id="1234567",
    )
    group, _ = manager_group_ensure()
    for manager in [
        BranchManagerFactory(user=UserFactory(username="bm.ws"), branch=branch, display_name="Ben Manager"),
        OrgAdminFactory(user=UserFactory(username="admin.ws"), organization=organization, display_name="Olga Admin"),
    ]:
        manager.user.groups.add(group)
    get_user_model().objects.create_superuser("operator.ws", "operator@example.com", "pass-12345")
    opportunities = [
        OpportunityFactory(
            loan__loan_officer=officer,
            loan__loan_number=f"WS-{i}",
            loan__borrower__first_name=first,
            loan__borrower__last_name="Vandenberg-Castellanos",
            monthly_savings=Decimal(savings),
        )
        for i, (first, savings) in enumerate([("Ana", "280.48"), ("Bo", "1520.00"), ("Cy", "95.10")])
    ]
    fresh_rates(organization, date=timezone.localdate())
    sequence_ensure_default(organization=organization)
    # The 18-month review's flag is the longest chip a board card carries: it must wrap on a phone.
    Opportunity.objects.filter(pk=opportunities[1].pk).update(
        attention_reason=REVIEW_ATTENTION, attention_at=timezone.now()
    )
    first = opportunities[0]
    enrollment_create(opportunity=first)
    return Lender(
        opportunity_id=first.pk,
        loan_id=first.loan_id,
        borrower_path=f"/r/{page_token(opportunity_id=first.pk, message_id=None)}/",
        officer_email=officer.email,
        officer_nmls=officer.nmls_id,
    )


def workspace_paths(lender: Lender, *, manager: bool) -> list[str]:
    paths = [
        "/board/",
        f"/opportunities/{lender.opportunity_id}/",
        f"/opportunities/{lender.opportunity_id}/refinance/",
        "/rates/",
        "/loans/",
        f"/loans/{lender.loan_id}/",
        "/imports/",
        "/imports/help/",
        "/reports/",
    ]
    if manager:
        paths += ["/scoring/model/", "/rates/rate-sheet/"]
    return paths


ADMIN_PATHS = [
    "/admin/",
    "/admin/pipeline/opportunity/",
    "/admin/pipeline/opportunity/{opportunity_id}/change/",
    "/admin/loans/loan/",
    "/admin/loans/loan/{loan_id}/change/",
]

ROLES = {
    "loan_officer": ("lo.ws", "workspace"),
    "branch_manager": ("bm.ws", "manager"),
    "org_admin": ("admin.ws", "manager"),
    "operator": ("operator.ws", "operator"),
}


def log_in(page, live_server, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pass-12345")
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def blocking_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    results = AXE.run(page)
    assert results.response["passes"], f"axe-core checked nothing on {page.url}"
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(node["target"]) for node in violation["nodes"]][:4]
            found.append(f"{page.url}: [{violation['impact']}] {violation['id']}: {violation['help']} at {targets}")
    return found


def visit(page, url: str) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(url)
    assert response is not None and response.status < 400, f"{url} -> {response and response.status}"


@pytest.mark.parametrize("role", ["signed_out", *ROLES])
def test_axe_finds_nothing_serious_on_any_page_of_each_role(page, live_server, role):
    lender = seed()
    base = live_server.url
    found: list[str] = []
    if role == "signed_out":  # the same for every role: the login page and the borrower's page
        paths = ["/accounts/login/", lender.borrower_path]
    else:
        username, kind = ROLES[role]
        log_in(page, live_server, username)
        if kind == "operator":
            expect(page).to_have_url(re.compile(r"/admin/$"))  # no workspace: the admin site, not a 403
            paths = [path.format(**vars(lender)) for path in ADMIN_PATHS]
            # A workspace page answers with the "no workspace" page, which must be accessible too.
            response = page.goto(base + "/rates/")
            assert response is not None and response.status == 403
            found += blocking_violations(page)
        else:
            paths = workspace_paths(lender, manager=kind == "manager")
            if kind == "manager":
                paths += [path.format(**vars(lender)) for path in ADMIN_PATHS]
        paths.append("/accounts/logout/")  # GET: the page with the log-out button
    for path in paths:
        visit(page, base + path)
        found += blocking_violations(page)
    assert not found, "\n".join(found)


def scroll_overflow(page) -> int:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


# The innermost elements that stick out on the right, outside any scrolling box: what a failure names.
STICKING_OUT = """() => [...document.querySelectorAll("body *")]
  .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
  .filter(el => ![...el.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .filter(el => { for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== "visible") return false; } return true; })
  .slice(0, 5)
  .map(el => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")}`
    + ` right=${Math.round(el.getBoundingClientRect().right)}`)"""


def too_wide(page, path: str) -> list[str]:  # type: ignore[no-untyped-def]
    overflow = scroll_overflow(page)
    return [f"{path} by {overflow} px: {page.evaluate(STICKING_OUT)}"] if overflow > 0 else []


@pytest.mark.parametrize("width", PHONES)
def test_no_page_scrolls_sideways_on_a_phone(page, live_server, width):
    lender = seed()
    page.set_viewport_size({"width": width, "height": 800})
    wide: list[str] = []

    visit(page, live_server.url + lender.borrower_path)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ana")
    wide += too_wide(page, lender.borrower_path)

    log_in(page, live_server, "admin.ws")
    for path in workspace_paths(lender, manager=True):
        visit(page, live_server.url + path)
        wide += too_wide(page, path)
    assert not wide, f"pages wider than {width} px: {wide}"

    # The board: each row is a card whose key figures are visible without scrolling sideways.
    visit(page, live_server.url + "/board/")
    rows = page.locator("#board-table tbody tr")
    expect(rows).to_have_count(3)
    card = rows.filter(has_text="WS-1")
    for text in ["Bo Vandenberg-Castellanos", "WS-1", "$1,520.00"]:
        expect(card.get_by_text(text, exact=False).first).to_be_visible()
        box = card.get_by_text(text, exact=False).first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (text, box)
    assert card.evaluate("row => getComputedStyle(row).display") != "table-row"


def test_borrower_page_shows_the_officer_contact_uncut_on_a_desktop(page, live_server):
    lender = seed()
    page.set_viewport_size({"width": 1440, "height": 900})
    visit(page, live_server.url + lender.borrower_path)
    card = page.get_by_role("region", name="Your loan officer")
    for element in [
        card.get_by_role("link", name=lender.officer_email),
        card.locator("dd", has_text=f"#{lender.officer_nmls}"),
        card.locator("dd", has_text="Prairie Home Lending · NMLS #"),
    ]:
        expect(element).to_be_visible()
        # One line, inside the card: neither wrapped nor clipped.
        lines, inside = element.evaluate(ONE_LINE_INSIDE)
        assert lines == 1 and inside, (element, lines, inside)


ONE_LINE_INSIDE = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  const card = el.closest("section").getBoundingClientRect();
  const box = range.getBoundingClientRect();
  return [tops.size, box.left >= card.left && box.right <= card.right && el.scrollWidth <= el.clientWidth + 1];
}"""
