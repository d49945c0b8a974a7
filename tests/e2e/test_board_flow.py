"""A loan officer's day in a real browser: log in, sort and filter the board, work an opportunity, export."""

from __future__ import annotations

import csv
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from pipeline.models import Activity, Opportunity
from tests.factories import LoanOfficerFactory, OpportunityFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def make_board():  # type: ignore[no-untyped-def]
    officer = LoanOfficerFactory(user=UserFactory(username="lo.e2e"), display_name="Laura Officer")
    for i, (product, savings, interest) in enumerate(
        [
            ("conforming", "410.00", "95000.00"),
            ("fha", "120.00", "88000.00"),
            ("conforming", "95.00", "70000.00"),
            ("fha", "515.25", "60000.00"),
            ("fha", "333.00", "50000.00"),
            ("conforming", "620.00", "40000.00"),
        ]
    ):
        OpportunityFactory(
            loan__loan_officer=officer,
            loan__product_type=product,
            loan__loan_number=f"E2E-{i}",
            loan__borrower__first_name=f"Borrower{i}",
            loan__borrower__last_name="Tester",
            product_type=product,
            monthly_savings=Decimal(savings),
            total_interest_savings=Decimal(interest),
        )
    # Someone else's opportunity never shows.
    OpportunityFactory(loan__loan_number="E2E-OTHER", product_type="fha", monthly_savings=Decimal("999.00"))
    return officer


def first_row(page):  # type: ignore[no-untyped-def]
    return page.locator("#board-table tbody tr").first


def test_loan_officer_works_the_board(page, live_server, tmp_path):
    make_board()

    # Log in through the login form; the home page is the board.
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill("lo.e2e")
    page.get_by_label("Password").fill("pass-12345")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/board/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pipeline")
    expect(page.locator("#board-table tbody tr")).to_have_count(6)
    expect(first_row(page)).to_contain_text("E2E-0")  # ranked by total interest savings
    expect(page.get_by_test_id("summary-count")).to_have_text("6")
    expect(page.locator("body")).not_to_contain_text("E2E-OTHER")

    # Sort by monthly savings: ascending, then descending (htmx swaps the table and pushes the URL).
    page.locator("#board-table thead").get_by_role("link", name="Monthly savings").click()
    expect(page).to_have_url(re.compile(r"sort=monthly_savings"))
    expect(first_row(page)).to_contain_text("$95.00")
    page.locator("#board-table thead").get_by_role("link", name="Monthly savings").click()
    expect(page).to_have_url(re.compile(r"sort=-monthly_savings"))
    expect(first_row(page)).to_contain_text("$620.00")

    # Filter by product: the sort is kept, the summary follows the filter.
    page.get_by_label("Product").select_option("fha")
    expect(page).to_have_url(re.compile(r"product_type=fha"))
    expect(page).to_have_url(re.compile(r"sort=-monthly_savings"))
    expect(page.locator("#board-table tbody tr")).to_have_count(3)
    expect(first_row(page)).to_contain_text("$515.25")
    expect(page.get_by_test_id("summary-count")).to_have_text("3")
    expect(page.get_by_test_id("summary-monthly")).to_have_text("$968.25")

    # Open the top opportunity.
    first_row(page).get_by_role("link", name="Borrower3 Tester").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Borrower3 Tester")
    expect(page.locator("#savings-table")).to_contain_text("New 15-year")
    expect(page.locator("#chart-controls")).to_be_visible()  # Chart.js and opportunity.js ran

    # Change its stage; the timeline shows who did it.
    page.get_by_label("Move to stage").select_option("contacted")
    page.get_by_label("Note (optional)").fill("Called, wants numbers by email")
    page.get_by_role("button", name="Change stage").click()
    expect(page.locator("#current-stage")).to_have_text("Contacted")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Stage: New → Contacted")
    expect(timeline).to_contain_text("Laura Officer")
    expect(timeline).to_contain_text("Called, wants numbers by email")
    opportunity = Opportunity.objects.get(loan__loan_number="E2E-3")
    assert opportunity.stage == "contacted"
    assert Activity.objects.get(opportunity=opportunity).actor.username == "lo.e2e"

    # Back to the board (same filters), export the filtered table as CSV.
    page.go_back()
    expect(page).to_have_url(re.compile(r"product_type=fha"))
    page.reload()
    expect(page.locator("#board-table tbody tr")).to_have_count(3)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("pipeline-") and download.suggested_filename.endswith(".csv")
    target = tmp_path / "pipeline.csv"
    download.save_as(target)
    with open(target, newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    assert header[:4] == ["Borrower", "Loan #", "Status", "Product"]
    assert [row[1] for row in rows] == ["E2E-3", "E2E-4", "E2E-1"]
    assert {row[header.index("Product")] for row in rows} == {"FHA"}
    assert rows[0][header.index("Stage")] == "Contacted"
    assert rows[0][header.index("Monthly savings ($)")] == "515.25"


def test_board_is_usable_on_a_phone(page, live_server):
    make_board()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("lo.e2e")
    page.get_by_label("Password").fill("pass-12345")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/board/$"))
    # The filters and the first borrower link are reachable; the table scrolls inside its own box.
    expect(page.get_by_label("Product")).to_be_visible()
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390
    link = first_row(page).get_by_role("link", name="Borrower0 Tester")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Borrower0 Tester")
