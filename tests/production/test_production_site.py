"""The app as an operator runs it (DEBUG off, gunicorn, manifest static files, Redis broker), driven in Chromium:
a loan officer signs in and opens the board, an opportunity and the reports; a borrower, signed out, opens their
page and requests a call, which stops the outreach sequence. No page logs a console error, and every static file
each page references answers 200."""

from __future__ import annotations

import re

import pytest

from tests.production.conftest import DEMO_PASSWORD, manage_json

pytestmark = pytest.mark.production

BORROWER = """
import json
from django.urls import reverse
from outreach.models import Enrollment
from outreach.rendering import page_token
enrollment = (
    Enrollment.objects.filter(status="active", opportunity__stage__in=["new", "contacted"],
                              opportunity__borrower__mobile_phone__gt="", opportunity__bookings__isnull=True)
    .select_related("opportunity").order_by("pk").first()
)
token = page_token(opportunity_id=enrollment.opportunity_id, message_id=None)
print(json.dumps({"path": reverse("outreach:borrower_page", args=[token]), "enrollment": enrollment.pk,
                  "opportunity": enrollment.opportunity_id}))
"""

AFTER_BOOKING = """
import json
from outreach.models import BookingRequest, Enrollment
enrollment = Enrollment.objects.select_related("opportunity").get(pk={enrollment})
print(json.dumps({{"bookings": BookingRequest.objects.filter(opportunity_id=enrollment.opportunity_id).count(),
                  "enrollment": enrollment.status, "stage": enrollment.opportunity.stage}}))
"""


def test_loan_officer_signs_in_and_opens_board_opportunity_and_reports(new_tab):
    tab = new_tab()
    login = tab.goto("/accounts/login/")
    assert login.status == 200
    assert login.headers.get("x-frame-options") == "DENY"
    tab.page.fill("input[name=username]", "olivia.bennett")
    tab.page.fill("input[name=password]", DEMO_PASSWORD)
    tab.page.click("button[type=submit], input[type=submit]")
    tab.page.wait_for_url(re.compile(r"/board/"))
    tab.check()
    rows = tab.page.locator("a[href^='/opportunities/']")
    assert rows.count() > 0, "the demo officer's board is empty"

    rows.first.click()
    tab.page.wait_for_url(re.compile(r"/opportunities/\d+/$"))
    tab.check()
    assert tab.page.locator("canvas").count() >= 1  # the savings chart (vendored Chart.js) rendered its canvas

    reports = tab.goto("/reports/")
    assert reports.status == 200
    assert tab.page.locator("h1").first.inner_text().strip() != ""


def test_borrower_signed_out_requests_a_call_and_outreach_stops(new_tab):
    borrower = manage_json(BORROWER)
    tab = new_tab()
    page = tab.goto(borrower["path"])
    assert page.status == 200
    tab.page.get_by_role("button", name="Request a call").click()
    tab.page.wait_for_load_state("load")
    assert tab.page.get_by_role("status").filter(has_text="Thanks!").count() == 1, tab.page.content()[:2000]
    tab.check()

    after = manage_json(AFTER_BOOKING.format(enrollment=borrower["enrollment"]))
    assert after["bookings"] == 1
    assert after["enrollment"] != "active"  # engagement stops (or pauses) the sequence
    assert after["stage"] == "appointment"
