"""The pipeline board: scoping, ranking, filters, sorting, summary, pagination, exports, htmx partial."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipeline.models import Opportunity
from pipeline.selectors.board import board_list, board_summary, rates_status
from pipeline.tables import OpportunityBoardTable
from tests.conftest import client_for
from tests.factories import (
    BranchFactory,
    BranchManagerFactory,
    LoanOfficerFactory,
    MatchRunFactory,
    OpportunityFactory,
    OrgAdminFactory,
    RateObservationFactory,
    RateSeriesFactory,
    SeriesMappingFactory,
)

pytestmark = pytest.mark.django_db

BOARD = reverse("pipeline:board")
NOW = dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC)  # 09:00 in Chicago, the factories' organization timezone


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def opp(officer, **kwargs) -> Opportunity:  # type: ignore[no-untyped-def]
    return OpportunityFactory(loan__loan_officer=officer, **kwargs)


def rows(response) -> list[Opportunity]:  # type: ignore[no-untyped-def]
    return [row.record for row in response.context["table"].paginated_rows]


def csv_rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode("utf-8"))))


# --- home and access ---------------------------------------------------------------------------------------


def test_home_redirects_to_the_board(officer_client):
    response = officer_client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == BOARD


def test_user_without_profile_gets_the_no_workspace_page(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x")
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 403
    response = client.get(BOARD)
    assert response.status_code == 403
    assert b"No workspace for this account" in response.content


def test_anonymous_is_sent_to_login(client):
    response = client.get(BOARD)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_nav_links_the_pipeline_first(officer_client):
    html = officer_client.get(BOARD).content.decode()
    nav = html[html.index('<nav aria-label="Main">') :]
    assert nav.index(">Pipeline<") < nav.index(">Portfolio<")
    assert 'aria-current="page">Pipeline' in nav


# --- scoping -----------------------------------------------------------------------------------------------


def test_loan_officer_sees_own_open_opportunities_ranked_by_total_interest_savings(officer, officer_client):
    small = opp(officer, total_interest_savings=Decimal("10000.00"))
    big = opp(officer, total_interest_savings=Decimal("90000.00"))
    middle = opp(officer, total_interest_savings=Decimal("50000.00"))
    opp(officer, stage=Opportunity.Stage.WON)  # closed: not on the default board
    colleague = LoanOfficerFactory(branch=officer.branch, organization=officer.organization)
    opp(colleague)
    OpportunityFactory()  # another organization
    response = officer_client.get(BOARD)
    assert response.status_code == 200
    assert rows(response) == [big, middle, small]
    # A loan officer's board has no officer or branch column and no officer or branch filter.
    table = response.context["table"]
    assert "loan_officer" not in [c.name for c in table.columns]
    assert "branch" not in [c.name for c in table.columns]
    assert "loan_officer" not in response.context["filter"].form.fields


def test_branch_manager_sees_the_branch_not_other_branches(officer, manager, manager_client):
    mine = opp(officer)
    own = opp(manager)
    other_branch = BranchFactory(organization=officer.organization)
    opp(LoanOfficerFactory(branch=other_branch, organization=officer.organization))
    response = manager_client.get(BOARD)
    assert set(rows(response)) == {mine, own}
    officer_choices = {o.pk for o in response.context["filter"].form.fields["loan_officer"].queryset}
    assert officer_choices == {officer.pk, manager.pk}
    assert "branch" not in response.context["filter"].form.fields


def test_org_admin_sees_the_organization_not_another(officer, org_admin):
    mine = opp(officer)
    other_branch = BranchFactory(organization=officer.organization)
    theirs = opp(LoanOfficerFactory(branch=other_branch, organization=officer.organization))
    OpportunityFactory()  # another organization
    response = client_for(org_admin).get(BOARD)
    assert set(rows(response)) == {mine, theirs}
    branches = set(response.context["filter"].form.fields["branch"].queryset)
    assert branches == {officer.branch, other_branch}


def test_manager_cannot_filter_by_an_officer_of_another_branch(officer, manager_client):
    opp(officer)
    outsider = LoanOfficerFactory(
        organization=officer.organization, branch=BranchFactory(organization=officer.organization)
    )
    opp(outsider)
    response = manager_client.get(BOARD, {"loan_officer": outsider.pk})
    assert response.status_code == 200
    assert rows(response) == []
    assert response.context["filter"].errors


def test_htmx_partial_is_scoped_and_is_only_the_table_region(officer, officer_client):
    mine = opp(officer)
    opp(LoanOfficerFactory(branch=officer.branch, organization=officer.organization))
    response = officer_client.get(BOARD, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="board-table"' in html
    assert "Opportunities" in html  # the summary strip is refreshed with the table
    assert rows(response) == [mine]


# --- filters -----------------------------------------------------------------------------------------------


def test_stage_filter_defaults_to_open_stages(officer, officer_client):
    new = opp(officer)
    engaged = opp(officer, stage="engaged")
    won = opp(officer, stage="won")
    archived = opp(officer, stage="archived")
    assert set(rows(officer_client.get(BOARD))) == {new, engaged}
    assert set(rows(officer_client.get(BOARD, {"stage": "all"}))) == {new, engaged, won, archived}
    assert rows(officer_client.get(BOARD, {"stage": "won"})) == [won]
    assert rows(officer_client.get(BOARD, {"stage": "engaged"})) == [engaged]


def test_filters_combine(officer, manager, manager_client):
    target = opp(
        officer,
        loan__product_type="fha",
        product_type="fha",
        monthly_savings=Decimal("300.00"),
        qualifies=True,
        loan__borrower__last_name="Okafor",
    )
    opp(officer, loan__product_type="fha", product_type="fha", monthly_savings=Decimal("99.99"))  # too little
    opp(officer, product_type="conforming", monthly_savings=Decimal("500.00"))  # another product
    opp(officer, loan__product_type="fha", product_type="fha", monthly_savings=Decimal("400.00"), qualifies=False)
    opp(manager, loan__product_type="fha", product_type="fha", monthly_savings=Decimal("400.00"))  # other officer
    query = {
        "product_type": "fha",
        "min_savings": "100",
        "qualifies": "yes",
        "loan_officer": officer.pk,
        "q": "okaf",
    }
    assert rows(manager_client.get(BOARD, query)) == [target]


def test_qualifies_filter(officer, officer_client):
    yes = opp(officer, qualifies=True)
    no = opp(officer, qualifies=False)
    assert rows(officer_client.get(BOARD, {"qualifies": "yes"})) == [yes]
    assert rows(officer_client.get(BOARD, {"qualifies": "no"})) == [no]
    assert set(rows(officer_client.get(BOARD, {"qualifies": ""}))) == {yes, no}


def test_search_by_name_and_by_loan_number(officer, officer_client):
    ada = opp(officer, loan__borrower__first_name="Ada", loan__borrower__last_name="Lovelace", loan__loan_number="A-1")
    opp(officer, loan__borrower__first_name="Alan", loan__borrower__last_name="Turing", loan__loan_number="T-77")
    turing = Opportunity.objects.get(loan__loan_number="T-77")
    assert rows(officer_client.get(BOARD, {"q": "ada love"})) == [ada]
    assert rows(officer_client.get(BOARD, {"q": "LOVELACE"})) == [ada]
    assert rows(officer_client.get(BOARD, {"q": "t-77"})) == [turing]


def test_branch_filter_for_org_admin(officer, org_admin):
    other_branch = BranchFactory(organization=officer.organization)
    theirs = opp(LoanOfficerFactory(branch=other_branch, organization=officer.organization))
    opp(officer)
    response = client_for(org_admin).get(BOARD, {"branch": other_branch.pk})
    assert rows(response) == [theirs]


def test_min_savings_takes_cents(officer, officer_client):
    """The browser's number field accepts 250.50 (step 0.01; a step of 1 made Chromium refuse the form)."""
    kept = opp(officer, monthly_savings=Decimal("250.50"))
    opp(officer, monthly_savings=Decimal("250.49"))
    response = officer_client.get(BOARD, {"min_savings": "250.50"})
    assert rows(response) == [kept]
    field = re.search(r'<input[^>]*name="min_savings"[^>]*>', response.content.decode()).group(0)
    assert 'step="0.01"' in field and 'value="250.50"' in field


def test_invalid_filter_shows_the_error_and_no_rows(officer, officer_client):
    opp(officer)
    response = officer_client.get(BOARD, {"min_savings": "lots"})
    assert response.status_code == 200
    assert rows(response) == []
    assert "min_savings" in response.context["filter"].errors


# --- sorting and paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", [name for name in OpportunityBoardTable.base_columns])
@pytest.mark.parametrize("direction", ["", "-"])
def test_every_column_sorts_in_the_database(column, direction, org_admin, officer):
    opp(officer, monthly_savings=Decimal("100.00"), loan__borrower__last_name="Zed")
    opp(officer, monthly_savings=Decimal("300.00"), loan__borrower__last_name="Abe", qualifies=False)
    response = client_for(org_admin).get(BOARD, {"sort": f"{direction}{column}"})
    assert response.status_code == 200
    assert len(rows(response)) == 2
    assert response.context["table"].order_by == (f"{direction}{column}",)


def test_sort_by_monthly_savings_orders_rows(officer, officer_client):
    low = opp(officer, monthly_savings=Decimal("100.00"), total_interest_savings=Decimal("90000.00"))
    high = opp(officer, monthly_savings=Decimal("300.00"), total_interest_savings=Decimal("10000.00"))
    mid = opp(officer, monthly_savings=Decimal("200.00"), total_interest_savings=Decimal("50000.00"))
    assert rows(officer_client.get(BOARD, {"sort": "monthly_savings"})) == [low, mid, high]
    response = officer_client.get(BOARD, {"sort": "-monthly_savings"})
    assert rows(response) == [high, mid, low]
    assert response.content.decode().count('aria-sort="descending"') == 1


def test_sort_by_borrower_name(officer, officer_client):
    zed = opp(officer, loan__borrower__last_name="Zed")
    abe = opp(officer, loan__borrower__last_name="Abe")
    assert rows(officer_client.get(BOARD, {"sort": "borrower"})) == [abe, zed]


def test_lazy_paging_without_a_count_of_the_page_query(officer, officer_client):
    created = OpportunityFactory.create_batch(30, loan__loan_officer=officer)
    with CaptureQueriesContext(connection) as ctx:
        response = officer_client.get(BOARD)
    counts = [q["sql"].upper() for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "SUM(" in counts[0]  # the summary aggregate only: the paginator never counts
    table = response.context["table"]
    assert len(rows(response)) == 25
    assert table.page.has_next()
    second = officer_client.get(BOARD, {"page": 2})
    assert len(rows(second)) == 5
    assert not second.context["table"].page.has_next()
    assert set(rows(response)) | set(rows(second)) == set(created)


@pytest.mark.parametrize("profile_fixture", ["officer", "manager", "org_admin"])
def test_query_count_is_the_same_for_every_page_size(profile_fixture, request, officer, django_assert_num_queries):
    profile = request.getfixturevalue(profile_fixture)
    OpportunityFactory.create_batch(120, loan__loan_officer=officer)
    client = client_for(profile)
    # +1 over the rows: today's rate per product, so each row can say why no message goes out on it.
    expected = {"officer": 9, "manager": 10, "org_admin": 11}[profile_fixture]
    for per_page in (25, 100):
        with django_assert_num_queries(expected):
            response = client.get(BOARD, {"per_page": per_page, "sort": "-monthly_savings"})
        assert len(rows(response)) == per_page


def test_page_size_is_capped(officer, officer_client):
    OpportunityFactory.create_batch(3, loan__loan_officer=officer)
    response = officer_client.get(BOARD, {"per_page": 100000})
    assert response.context["table"].paginator.per_page == 200


# --- row indicators ----------------------------------------------------------------------------------------


def price(organization, *, date, product_type="conforming", term_months=360):  # type: ignore[no-untyped-def]
    series = RateSeriesFactory(
        code=f"S-{product_type}-{term_months}", product_type=product_type, term_months=term_months
    )
    SeriesMappingFactory(organization=organization, product_type=product_type, term_months=term_months, series=series)
    RateObservationFactory(series=series, date=date)
    return series


def test_row_indicators_stale_rate_no_longer_qualifies_and_attention(officer, officer_client):
    # The organization's staleness limit is 7 days; today is 2026-11-22 in Chicago.
    price(officer.organization, date=dt.date(2026, 11, 20))
    opp(officer, market_rate_date=dt.date(2026, 11, 15), loan__borrower__last_name="Fresh")
    opp(officer, market_rate_date=dt.date(2026, 11, 14), loan__borrower__last_name="Stale")
    opp(officer, qualifies=False, loan__borrower__last_name="Gone")
    opp(officer, attention_reason="Replied to the email", loan__borrower__last_name="Keen")
    response = officer_client.get(BOARD, {"sort": "borrower"})
    table = response.context["table"]
    flags = {row.record.borrower.last_name: table.flag_list(row.record) for row in table.paginated_rows}
    assert flags["Fresh"] == []
    assert flags["Stale"] == [
        (
            "warn",
            "Stale rate: The savings were computed on the rate of Nov 14, 2026, older than 7 days: "
            "no message goes out until the match runs on today's rates.",
        )
    ]
    assert flags["Gone"] == [("bad", "No longer qualifies")]
    assert flags["Keen"] == [("good", "Attention: Replied to the email")]
    html = response.content.decode()
    assert "no message goes out until the match runs on today&#x27;s rates" in html
    assert "No longer qualifies" in html
    assert "Attention: Replied to the email" in html


def test_every_row_says_stale_rate_when_the_products_rate_is_stale(officer, officer_client):
    """Rates 11 days old: no row may say "Qualifies", each says why no message goes out (fails before issue 12:
    a row matched on a then-fresh rate kept its "Qualifies" chip while the product's rate went stale)."""
    price(officer.organization, date=dt.date(2026, 11, 11))
    opp(officer, market_rate_date=dt.date(2026, 11, 20), loan__borrower__last_name="Matched")
    html = officer_client.get(BOARD).content.decode()
    assert ">Qualifies<" not in html
    assert "Stale rate" in html
    assert "The Conforming 30-year rate is from Nov 11, 2026, older than 7 days" in html
    assert "no message goes out until rates are refreshed" in html


def test_a_row_without_any_market_rate_says_so(officer, officer_client):
    opp(officer, loan__borrower__last_name="Unpriced")
    html = officer_client.get(BOARD).content.decode()
    assert "No market rate for Conforming 30-year: no message goes out until one is loaded." in html


# --- summary strip -----------------------------------------------------------------------------------------


def test_summary_totals_are_exact_decimals_over_the_filtered_board(officer, officer_client):
    opp(officer, monthly_savings=Decimal("280.48"), total_interest_savings=Decimal("90869.24"))
    opp(officer, monthly_savings=Decimal("0.01"), total_interest_savings=Decimal("0.49"))
    opp(officer, monthly_savings=Decimal("1000.00"), total_interest_savings=Decimal("1.00"), product_type="va")
    opp(officer, monthly_savings=Decimal("999.99"), total_interest_savings=Decimal("999.99"), stage="won")
    response = officer_client.get(BOARD, {"product_type": "conforming"})
    summary = response.context["summary"]
    assert summary.count == 2
    assert summary.monthly_savings == Decimal("280.49")
    assert summary.total_interest_savings == Decimal("90869.73")
    html = response.content.decode()
    assert "$280.49" in html
    assert "$90,869.73" in html


def test_summary_of_an_empty_board_is_zero(officer):
    summary = board_summary(queryset=board_list(user=officer.user).none())
    assert (summary.count, summary.monthly_savings, summary.total_interest_savings) == (
        0,
        Decimal("0.00"),
        Decimal("0.00"),
    )
    summary = board_summary(queryset=board_list(user=officer.user))
    assert (summary.count, summary.monthly_savings, summary.total_interest_savings) == (
        0,
        Decimal("0.00"),
        Decimal("0.00"),
    )


def test_summary_shows_rate_age_and_last_match_run(officer, officer_client):
    org = officer.organization
    series_30 = RateSeriesFactory(code="OBMMIC30YF")
    series_15 = RateSeriesFactory(code="OBMMIC15YF", term_months=180)
    SeriesMappingFactory(organization=org, series=series_30)
    SeriesMappingFactory(organization=org, series=series_15, term_months=180)
    RateObservationFactory(series=series_30, date=dt.date(2026, 11, 20))
    RateObservationFactory(series=series_15, date=dt.date(2026, 11, 10), rate=Decimal("5.500"))
    MatchRunFactory(organization=org, as_of=dt.date(2026, 11, 21), matched=1234)
    MatchRunFactory(as_of=dt.date(2026, 11, 22))  # another organization's run
    status = rates_status(organization=org, as_of=dt.date(2026, 11, 22))
    assert (status.oldest, status.newest, status.age_days, status.stale_count) == (
        dt.date(2026, 11, 10),
        dt.date(2026, 11, 20),
        12,
        1,
    )
    html = officer_client.get(BOARD).content.decode()
    # The tile's value is the rates' date; its age is the caption (before issue 12 the age was the value).
    assert "Market rates as of" in html and "Today's rate" not in html
    assert "Nov 10, 2026" in html
    assert "12 days old" in html
    assert "1 of 2 stale" in html
    assert "Nov 21, 2026" in html
    assert "1,234 matched" in html


def test_summary_without_rates_or_runs(officer_client):
    html = officer_client.get(BOARD).content.decode()
    assert "no rates" in html
    assert "never" in html


def test_run_match_button_for_managers_only(manager_client, officer_client):
    response = manager_client.get(BOARD)
    assert response.context["run_match_url"] == reverse("pipeline:run_match")
    assert b"Run match now" in response.content
    response = officer_client.get(BOARD)
    assert response.context["run_match_url"] is None
    assert b"Run match now" not in response.content


# --- exports -----------------------------------------------------------------------------------------------


def test_csv_export_is_the_same_filtered_scoped_sorted_table(officer, officer_client):
    a = opp(
        officer,
        loan__loan_number="LN-A",
        loan__borrower__first_name="Ada",
        loan__borrower__last_name="Lovelace",
        monthly_savings=Decimal("280.48"),
        total_interest_savings=Decimal("90869.24"),
    )
    opp(officer, loan__loan_number="LN-B", monthly_savings=Decimal("120.00"), product_type="va")
    opp(officer, loan__loan_number="LN-C", monthly_savings=Decimal("50.00"), stage="lost")
    opp(LoanOfficerFactory(branch=officer.branch, organization=officer.organization), loan__loan_number="LN-X")
    response = officer_client.get(BOARD, {"product_type": "conforming", "sort": "-monthly_savings", "_export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="pipeline-2026-11-22.csv"' in response["Content-Disposition"]
    header, *body = csv_rows(response)
    assert header == [
        "Borrower",
        "Loan #",
        "Status",
        "Product",
        "Note rate (%)",
        "Market rate (%)",
        "Spread (percentage points)",
        "Monthly savings ($)",
        "Total interest savings ($)",
        "Break-even (months)",
        "Balance ($)",
        "Score",
        "Est. value (FHFA index)",
        "LTV (%)",
        "Equity ($)",
        "Cash-out room ($)",
        "Stage",
        "Last contact (YYYY-MM-DD)",
    ]
    assert body == [
        [
            "Ada Lovelace",
            "LN-A",
            "Stale rate: No market rate for Conforming 30-year: no message goes out until one is loaded.",
            "Conforming",
            "7.250",
            "6.125",
            "1.125",
            "280.48",
            "90869.24",
            "20",
            "387493.18",
            "",  # not scored yet: the nightly scoring writes score and figures
            "",
            "",
            "",
            "",
            "New",
            "",
        ]
    ]
    assert a.loan.loan_number == "LN-A"


def test_csv_export_for_a_manager_has_the_officer_column_and_only_the_branch(officer, manager, manager_client):
    opp(officer, loan__loan_number="LN-1")
    other_branch = BranchFactory(organization=officer.organization)
    opp(LoanOfficerFactory(branch=other_branch, organization=officer.organization), loan__loan_number="LN-2")
    header, *body = csv_rows(manager_client.get(BOARD, {"_export": "csv"}))
    assert header[:4] == ["Borrower", "Loan #", "Status", "Loan officer"]
    assert [row[1] for row in body] == ["LN-1"]
    assert body[0][3] == officer.display_name


def test_xlsx_export_has_numbers_percentages_and_dates(officer, officer_client):
    opp(
        officer,
        loan__loan_number="LN-X1",
        monthly_savings=Decimal("-916.95"),
        last_contacted_at=dt.datetime(2026, 11, 22, 3, 30, tzinfo=dt.UTC),
    )
    response = officer_client.get(BOARD, {"_export": "xlsx"})
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    header = [cell.value for cell in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert sheet.max_row == 2
    assert row["Loan #"].value == "LN-X1"
    # Money: a number in a currency format (a negative amount stays a negative number).
    assert row["Monthly savings ($)"].value == -916.95
    assert row["Monthly savings ($)"].number_format == '"$"#,##0.00;-"$"#,##0.00'
    # Rates: percent with three decimals (7.250 % is stored as 0.0725).
    assert row["Note rate (%)"].value == pytest.approx(0.0725)
    assert row["Note rate (%)"].number_format == "0.000%"
    # Dates: a real date in the organization's zone (03:30 UTC on the 22nd is the 21st in Chicago).
    assert row["Last contact"].value == dt.datetime(2026, 11, 21)
    assert row["Last contact"].number_format == "mmm d, yyyy"


def test_board_for_an_officer_with_other_branch_manager_unrelated(officer):
    """A manager of another branch of the same organization sees none of the officer's rows."""
    opp(officer)
    other = BranchManagerFactory(
        organization=officer.organization, branch=BranchFactory(organization=officer.organization)
    )
    assert rows(client_for(other).get(BOARD)) == []
    admin_elsewhere = OrgAdminFactory()
    assert rows(client_for(admin_elsewhere).get(BOARD)) == []


def test_dates_are_the_organizations_local_dates(officer, officer_client):
    # 03:30 UTC on the 22nd is still the 21st in Chicago.
    opp(officer, last_contacted_at=dt.datetime(2026, 11, 22, 3, 30, tzinfo=dt.UTC), loan__loan_number="LN-TZ")
    response = officer_client.get(BOARD)
    assert ">Nov 21, 2026<" in response.content.decode()
    header, row = csv_rows(officer_client.get(BOARD, {"_export": "csv"}))
    assert row[header.index("Last contact (YYYY-MM-DD)")] == "2026-11-21"


def test_fast_select_renders_like_a_select_and_escapes():
    from pipeline.filters import FastSelect

    widget = FastSelect(choices=[("", "Any"), ("a&b", "<A & B>"), ("c", "C")])
    html = widget.render("product", "a&b", attrs={"id": "id_product"})
    assert html == (
        '<select name="product" id="id_product"><option value="">Any</option>'
        '<option value="a&amp;b" selected>&lt;A &amp; B&gt;</option><option value="c">C</option></select>'
    )


def test_filter_form_keeps_the_chosen_values(officer, manager_client):
    html = manager_client.get(
        BOARD, {"loan_officer": officer.pk, "product_type": "va", "stage": "won"}
    ).content.decode()
    assert f'<option value="{officer.pk}" selected>{officer.display_name}</option>' in html
    assert '<option value="va" selected>VA</option>' in html
    assert '<option value="won" selected>Won</option>' in html
    assert '<label for="id_product_type">Product</label>' in html and 'id="id_product_type"' in html


def test_rates_status_uses_the_fallback_series_when_the_main_one_has_no_rate(officer):
    org = officer.organization
    main = RateSeriesFactory(code="OBMMIFHA30YF", product_type="fha")
    fallback = RateSeriesFactory(code="MORTGAGE30US", product_type="")
    SeriesMappingFactory(organization=org, product_type="fha", series=main, fallback_series=fallback)
    RateObservationFactory(series=fallback, date=dt.date(2026, 11, 19))
    RateObservationFactory(series=fallback, date=dt.date(2026, 11, 23))  # after as_of: not used
    status = rates_status(organization=org, as_of=dt.date(2026, 11, 22))
    assert (status.oldest, status.stale_count, status.product_count, status.is_stale) == (
        dt.date(2026, 11, 19),
        0,
        1,
        False,
    )
