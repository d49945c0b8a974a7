from __future__ import annotations

import csv
import io
import re

import pytest
import time_machine
from django.urls import reverse

from tests.conftest import client_for
from tests.reports.conftest import local

pytestmark = pytest.mark.django_db

URL = reverse("reports:report")
WEEK_QUERY = {"start": "2026-11-09", "end": "2026-11-15"}


def _rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode())))


def _cells(html: str, table: str) -> list[list[str]]:
    """The visible text of each row of one report table on the page."""
    body = html.split(f'id="table-{table}"', 1)[1].split("</table>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
        rows.append([re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def test_page_shows_every_number_for_the_org_admin(history):
    response = client_for(history.admin).get(URL, WEEK_QUERY)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nov 9, 2026 – Nov 15, 2026" in html
    assert "How these numbers are counted" in html
    assert _cells(html, "summary") == [
        ["Number", "This period", "Previous period", "Change", "Change %"],
        ["Opportunities identified", "6", "2", "+4", "+200.0%"],
        ["Emails sent", "4", "1", "+3", "+300.0%"],
        ["SMS sent", "1", "0", "+1", "—"],
        ["Delivered", "3", "1", "+2", "+200.0%"],
        ["Opened", "2", "1", "+1", "+100.0%"],
        ["Clicked", "1", "0", "+1", "—"],
        ["Replied", "2", "0", "+2", "—"],
        ["Appointments booked", "3", "0", "+3", "—"],
        ["Applications started", "1", "0", "+1", "—"],
        ["Loans won", "2", "1", "+1", "+100.0%"],
        ["Est. origination revenue", "$8,000.00", "$4,000.00", "+$4,000.00", "+100.0%"],
    ]
    officers = _cells(html, "officers")
    assert officers[0][0] == "Loan officer"
    assert officers[1] == [
        "Alice Adams", "2 (+1)", "2 (+1)", "1 (+1)", "2 (+1)", "1 (0)", "1 (+1)", "2 (+2)", "2 (+2)", "1 (+1)",
        "1 (0)", "$4,000.00 ($0.00)",
    ]  # fmt: skip
    assert officers[2] == [
        "Bob Brown", "2 (+1)", "1 (+1)", "0 (0)", "1 (+1)", "1 (+1)", "0 (0)", "0 (0)", "0 (0)", "0 (0)", "1 (+1)",
        "$4,000.00 (+$4,000.00)",
    ]  # fmt: skip
    assert officers[3][0] == "Carol Chen"
    assert officers[4][:2] == ["Unassigned", "1 (+1)"]
    assert officers[5] == [
        "Total", "6 (+4)", "4 (+3)", "1 (+1)", "3 (+2)", "2 (+1)", "1 (+1)", "2 (+2)", "3 (+3)", "1 (+1)", "2 (+1)",
        "$8,000.00 (+$4,000.00)",
    ]  # fmt: skip
    assert _cells(html, "funnel")[1:] == [
        ["Identified", "6", "100.0%"],
        ["Contacted (first message sent)", "4", "66.7%"],
        ["Delivered", "3", "50.0%"],
        ["Opened", "2", "33.3%"],
        ["Clicked", "1", "16.7%"],
        ["Replied", "1", "16.7%"],
        ["Appointment", "3", "50.0%"],
        ["Application started", "2", "33.3%"],
        ["Won", "2", "33.3%"],
    ]
    assert _cells(html, "bands")[1:] == [
        ["0.50–0.75", "2", "1", "1", "1", "1", "1", "50.0%", "50.0%", "1.0 h", "24.5 h"],
        ["0.75–1.00", "2", "2", "0", "1", "0", "0", "0.0%", "0.0%", "2.5 h", "24.0 h"],
        ["1.00–1.50", "1", "0", "0", "0", "0", "0", "0.0%", "0.0%", "—", "—"],
        ["1.50 and more", "1", "1", "0", "1", "1", "1", "100.0%", "100.0%", "6.0 h", "3.8 d"],
        ["All spreads", "6", "4", "1", "3", "2", "2", "33.3%", "33.3%", "2.5 h", "24.5 h"],
    ]
    assert [row[0] for row in _cells(html, "rules")[1:]] == [
        "Flat threshold 0.500 pts",
        "Flat threshold 0.625 pts",
        "Optimal threshold (x*, per loan)",
        "Rule not recorded 0.500 pts",
        "All rules",
    ]
    # Server-side SVG charts, no CDN.
    assert html.count("<svg") == 3
    assert "cdn" not in html.lower()
    assert "Zed Outsider" not in html


def test_loan_officer_page_shows_own_numbers_only(history):
    html = client_for(history.alice).get(URL, WEEK_QUERY).content.decode()
    officers = _cells(html, "officers")
    assert [row[0] for row in officers[1:]] == ["Alice Adams", "Total"]
    assert officers[-1][1] == "2 (+1)"
    for name in ("Bob Brown", "Carol Chen", "Unassigned", "Zed Outsider"):
        assert name not in html


def test_branch_manager_page_shows_branch_only(history):
    html = client_for(history.manager).get(URL, WEEK_QUERY).content.decode()
    assert [row[0] for row in _cells(html, "officers")[1:]] == ["Alice Adams", "Bob Brown", "Unassigned", "Total"]
    assert _cells(html, "officers")[-1][1] == "5 (+3)"
    assert "Carol Chen" not in html


def test_other_organization_admin_sees_none_of_it(history):
    html = client_for(history.other_admin).get(URL, WEEK_QUERY).content.decode()
    assert [row[0] for row in _cells(html, "officers")[1:]] == ["Zed Outsider", "Total"]
    assert "Alice Adams" not in html


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            "summary",
            [
                ["Number", "Unit", "This period", "Previous period", "Change", "Change %"],
                ["Opportunities identified", "count", "6", "2", "4", "200.0"],
                ["Emails sent", "count", "4", "1", "3", "300.0"],
                ["SMS sent", "count", "1", "0", "1", ""],
                ["Delivered", "count", "3", "1", "2", "200.0"],
                ["Opened", "count", "2", "1", "1", "100.0"],
                ["Clicked", "count", "1", "0", "1", ""],
                ["Replied", "count", "2", "0", "2", ""],
                ["Appointments booked", "count", "3", "0", "3", ""],
                ["Applications started", "count", "1", "0", "1", ""],
                ["Loans won", "count", "2", "1", "1", "100.0"],
                ["Est. origination revenue", "$", "8000.00", "4000.00", "4000.00", "100.0"],
            ],
        ),
        (
            "funnel",
            [
                ["Stage", "Opportunities", "Share of identified (%)"],
                ["Identified", "6", "100.0"],
                ["Contacted (first message sent)", "4", "66.7"],
                ["Delivered", "3", "50.0"],
                ["Opened", "2", "33.3"],
                ["Clicked", "1", "16.7"],
                ["Replied", "1", "16.7"],
                ["Appointment", "3", "50.0"],
                ["Application started", "2", "33.3"],
                ["Won", "2", "33.3"],
            ],
        ),
        (
            "bands",
            [
                [
                    "Spread band (points)", "Identified", "Contacted", "Replied", "Appointment", "Application", "Won",
                    "Application rate (%)", "Win rate (%)", "Median match to first touch (hours)",
                    "Median match to appointment (hours)",
                ],
                ["0.50–0.75", "2", "1", "1", "1", "1", "1", "50.0", "50.0", "1.0", "24.5"],
                ["0.75–1.00", "2", "2", "0", "1", "0", "0", "0.0", "0.0", "2.5", "24.0"],
                ["1.00–1.50", "1", "0", "0", "0", "0", "0", "0.0", "0.0", "", ""],
                ["1.50 and more", "1", "1", "0", "1", "1", "1", "100.0", "100.0", "6.0", "92.0"],
                ["All spreads", "6", "4", "1", "3", "2", "2", "33.3", "33.3", "2.5", "24.5"],
            ],
        ),
        (
            "rules",
            [
                [
                    "Threshold rule", "Identified", "Contacted", "Replied", "Appointment", "Application", "Won",
                    "Application rate (%)", "Win rate (%)", "Median match to first touch (hours)",
                    "Median match to appointment (hours)",
                ],
                ["Flat threshold 0.500 pts", "1", "1", "1", "1", "1", "1", "100.0", "100.0", "1.0", "24.5"],
                ["Flat threshold 0.625 pts", "3", "2", "0", "1", "0", "0", "0.0", "0.0", "2.5", "24.0"],
                ["Optimal threshold (x*, per loan)", "1", "1", "0", "1", "1", "1", "100.0", "100.0", "6.0", "92.0"],
                ["Rule not recorded 0.500 pts", "1", "0", "0", "0", "0", "0", "0.0", "0.0", "", ""],
                ["All rules", "6", "4", "1", "3", "2", "2", "33.3", "33.3", "2.5", "24.5"],
            ],
        ),
    ],
)  # fmt: skip
def test_csv_export_of_each_table(history, table, expected):
    response = client_for(history.admin).get(URL, {**WEEK_QUERY, "export": table})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="prairie-{table}-20261109-20261115.csv"'
    assert _rows(response) == expected


def test_csv_export_of_officers_has_a_change_column_per_number(history):
    rows = _rows(client_for(history.manager).get(URL, {**WEEK_QUERY, "export": "officers"}))
    assert rows[0][:5] == [
        "Loan officer",
        "Opportunities identified",
        "Opportunities identified change",
        "Emails sent",
        "Emails sent change",
    ]
    assert rows[0][-2:] == ["Est. origination revenue ($)", "Est. origination revenue ($) change"]
    assert rows[1] == [
        "Alice Adams", "2", "1", "2", "1", "1", "1", "2", "1", "1", "0", "1", "1", "2", "2", "2", "2", "1", "1",
        "1", "0", "4000.00", "0.00",
    ]  # fmt: skip
    assert [row[0] for row in rows[1:]] == ["Alice Adams", "Bob Brown", "Unassigned", "Total"]
    assert rows[-1][1:3] == ["5", "3"]


def test_csv_export_is_scoped_like_the_page(history):
    rows = _rows(client_for(history.alice).get(URL, {**WEEK_QUERY, "export": "officers"}))
    assert [row[0] for row in rows[1:]] == ["Alice Adams", "Total"]


def test_unknown_export_is_404(history):
    assert client_for(history.admin).get(URL, {"export": "secrets"}).status_code == 404


@time_machine.travel(local(18, 12), tick=False)
def test_default_period_is_the_last_seven_days(history):
    html = client_for(history.admin).get(URL).content.decode()
    assert "Nov 12, 2026 – Nov 18, 2026" in html
    assert 'aria-current="true">Last 7 days' in html
    assert "week over week" in html


@time_machine.travel(local(18, 12), tick=False)
@pytest.mark.parametrize(
    ("preset", "label", "compared"),
    [
        ("4w", "Oct 22, 2026 – Nov 18, 2026", "vs the previous 28 days"),
        ("quarter", "Aug 20, 2026 – Nov 18, 2026", "vs the previous 91 days"),
    ],
)
def test_presets(history, preset, label, compared):
    html = client_for(history.admin).get(URL, {"preset": preset}).content.decode()
    assert label in html
    assert compared in html


@time_machine.travel(local(18, 12), tick=False)
def test_invalid_period_shows_an_error_and_the_default(history):
    response = client_for(history.admin).get(URL, {"start": "2026-11-15", "end": "2026-11-09"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "The end date is before the start date." in html
    assert "Nov 12, 2026 – Nov 18, 2026" in html


def test_login_required_and_profile_required(client, django_user_model):
    assert client.get(URL).status_code == 302
    user = django_user_model.objects.create_user("nobody", password="x")
    client.force_login(user)
    assert client.get(URL).status_code == 403


def test_nav_links_to_reports(officer_client):
    html = officer_client.get(URL).content.decode()
    assert f'href="{URL}" aria-current="page">Reports' in html
