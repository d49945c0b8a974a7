from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from reports import selectors
from reports.periods import Period
from tests.reports.conftest import WEEK

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")
H = dt.timedelta(hours=1)

ALICE = {
    "identified": (2, 1),
    "sent_email": (2, 1),
    "sent_sms": (1, 0),
    "delivered": (2, 1),
    "opened": (1, 1),
    "clicked": (1, 0),
    "replied": (2, 0),
    "appointments": (2, 0),
    "applications": (1, 0),
    "won": (1, 1),
    "revenue": (Decimal("4000.00"), Decimal("4000.00")),
}
BOB = {
    "identified": (2, 1),
    "sent_email": (1, 0),
    "sent_sms": (0, 0),
    "delivered": (1, 0),
    "opened": (1, 0),
    "clicked": (0, 0),
    "replied": (0, 0),
    "appointments": (0, 0),
    "applications": (0, 0),
    "won": (1, 0),
    "revenue": (Decimal("4000.00"), ZERO),
}
CAROL = {
    "identified": (1, 0),
    "sent_email": (1, 0),
    "sent_sms": (0, 0),
    "delivered": (0, 0),
    "opened": (0, 0),
    "clicked": (0, 0),
    "replied": (0, 0),
    "appointments": (1, 0),
    "applications": (0, 0),
    "won": (0, 0),
    "revenue": (ZERO, ZERO),
}
UNASSIGNED = {key: ((1, 0) if key == "identified" else (ZERO, ZERO) if key == "revenue" else (0, 0)) for key in ALICE}


def _sum(*rows: dict) -> dict:
    return {key: (sum(r[key][0] for r in rows), sum(r[key][1] for r in rows)) for key in ALICE}


def _numbers(row) -> dict:
    return {key: (row.current[key], row.previous[key]) for key in row.current}


def test_org_admin_sees_every_officer_and_exact_totals(history):
    report = selectors.report_build(user=history.admin.user, period=WEEK)
    assert [r.name for r in report.officers] == ["Alice Adams", "Bob Brown", "Carol Chen", "Unassigned"]
    assert [_numbers(r) for r in report.officers] == [ALICE, BOB, CAROL, UNASSIGNED]
    assert _numbers(report.total) == _sum(ALICE, BOB, CAROL, UNASSIGNED)
    assert _numbers(report.total) == {
        "identified": (6, 2),
        "sent_email": (4, 1),
        "sent_sms": (1, 0),
        "delivered": (3, 1),
        "opened": (2, 1),
        "clicked": (1, 0),
        "replied": (2, 0),
        "appointments": (3, 0),
        "applications": (1, 0),
        "won": (2, 1),
        "revenue": (Decimal("8000.00"), Decimal("4000.00")),
    }
    assert report.total.change("won") == 1
    assert report.total.change("revenue") == Decimal("4000.00")
    assert report.total.change_percent("identified") == Decimal("200.0")
    assert report.total.change_percent("replied") is None  # nothing to compare with


def test_branch_manager_sees_own_branch_only(history):
    report = selectors.report_build(user=history.manager.user, period=WEEK)
    assert [r.name for r in report.officers] == ["Alice Adams", "Bob Brown", "Unassigned"]
    assert _numbers(report.total) == _sum(ALICE, BOB, UNASSIGNED)
    south = selectors.report_build(user=history.south_manager.user, period=WEEK)
    assert [r.name for r in south.officers] == ["Carol Chen"]
    assert _numbers(south.total) == CAROL


def test_loan_officer_sees_own_numbers_only(history):
    report = selectors.report_build(user=history.alice.user, period=WEEK)
    assert [r.name for r in report.officers] == ["Alice Adams"]
    assert _numbers(report.total) == ALICE
    assert report.cohort_total.identified == 2
    assert [(b.key, b.identified) for b in report.bands] == [
        ("0.50-0.75", 1),
        ("0.75-1.00", 1),
        ("1.00-1.50", 0),
        ("1.50+", 0),
    ]


def test_other_organization_never_shows(history):
    report = selectors.report_build(user=history.other_admin.user, period=WEEK)
    assert [r.name for r in report.officers] == ["Zed Outsider"]
    assert _numbers(report.total)["identified"] == (1, 0)
    assert _numbers(report.total)["won"] == (1, 0)
    assert report.cohort_total.identified == 1


def test_funnel_follows_the_cohort(history):
    report = selectors.report_build(user=history.admin.user, period=WEEK)
    assert report.funnel == [
        ("identified", "Identified", 6, Decimal("100.0")),
        ("contacted", "Contacted (first message sent)", 4, Decimal("66.7")),
        ("delivered", "Delivered", 3, Decimal("50.0")),
        ("opened", "Opened", 2, Decimal("33.3")),
        ("clicked", "Clicked", 1, Decimal("16.7")),
        ("replied", "Replied", 1, Decimal("16.7")),
        ("appointment", "Appointment", 3, Decimal("50.0")),
        ("application", "Application started", 2, Decimal("33.3")),
        ("won", "Won", 2, Decimal("33.3")),
    ]


def _cohort(row) -> tuple:
    return (
        row.key,
        row.identified,
        row.reached["contacted"],
        row.reached["replied"],
        row.reached["appointment"],
        row.reached["application"],
        row.reached["won"],
        row.rate("application"),
        row.rate("won"),
        row.median_first_touch,
        row.median_appointment,
    )


def test_conversion_by_spread_band(history):
    report = selectors.report_build(user=history.admin.user, period=WEEK)
    assert [_cohort(r) for r in report.bands] == [
        ("0.50-0.75", 2, 1, 1, 1, 1, 1, Decimal("50.0"), Decimal("50.0"), 1 * H, dt.timedelta(hours=24, minutes=30)),
        ("0.75-1.00", 2, 2, 0, 1, 0, 0, Decimal("0.0"), Decimal("0.0"), dt.timedelta(hours=2.5), 24 * H),
        ("1.00-1.50", 1, 0, 0, 0, 0, 0, Decimal("0.0"), Decimal("0.0"), None, None),
        ("1.50+", 1, 1, 0, 1, 1, 1, Decimal("100.0"), Decimal("100.0"), 6 * H, 92 * H),
    ]
    assert _cohort(report.cohort_total) == (
        "total", 6, 4, 1, 3, 2, 2, Decimal("33.3"), Decimal("33.3"), dt.timedelta(hours=2.5), dt.timedelta(hours=24.5)
    )  # fmt: skip


def test_band_below_half_a_point_only_when_it_has_opportunities(history):
    from tests.factories import OpportunityFactory

    OpportunityFactory(loan__loan_officer=history.alice, first_matched_at=WEEK.start_at + H, spread=Decimal("0.499"))
    report = selectors.report_build(user=history.admin.user, period=WEEK)
    assert [(b.key, b.identified) for b in report.bands][0] == ("below_0.50", 1)


def test_conversion_by_threshold_rule(history):
    report = selectors.report_build(user=history.admin.user, period=WEEK)
    rows = [(r.label, *_cohort(r)[1:]) for r in report.rules]
    assert rows == [
        ("Flat threshold 0.500 pts", 1, 1, 1, 1, 1, 1, Decimal("100.0"), Decimal("100.0"), 1 * H, 24.5 * H),
        ("Flat threshold 0.625 pts", 3, 2, 0, 1, 0, 0, Decimal("0.0"), Decimal("0.0"), 2.5 * H, 24 * H),
        ("Optimal threshold (x*, per loan)", 1, 1, 0, 1, 1, 1, Decimal("100.0"), Decimal("100.0"), 6 * H, 92 * H),
        ("Rule not recorded 0.500 pts", 1, 0, 0, 0, 0, 0, Decimal("0.0"), Decimal("0.0"), None, None),
    ]


def test_period_is_whole_local_days(history):
    """o6 (Sunday 23:30 Chicago = Monday 05:30 UTC) is in the week; o7 (Monday 00:30 Chicago) is not."""
    ids = set(selectors.cohort(user=history.admin.user, period=WEEK).values_list("pk", flat=True))
    assert history.opportunities["o6"].pk in ids
    assert history.opportunities["o7"].pk not in ids
    next_day = Period(start=dt.date(2026, 11, 16), end=dt.date(2026, 11, 16), timezone="America/Chicago")
    assert list(selectors.cohort(user=history.admin.user, period=next_day).values_list("pk", flat=True)) == [
        history.opportunities["o7"].pk
    ]


def test_window_medians_agree_with_the_database_median(history):
    """The portable window-function median gives what PERCENTILE_CONT gives on PostgreSQL (and is what SQLite uses)."""
    qs = selectors.cohort(user=history.admin.user, period=WEEK)
    counts = selectors.cohort_counts(qs)
    window = selectors._medians_window(qs, counts)
    assert window[()] == {"first_touch": 2.5 * H, "appointment": 24.5 * H}
    assert window[("band", "1.50+")] == {"first_touch": 6 * H, "appointment": 92 * H}
    assert ("band", "1.00-1.50") not in window  # nobody in that band was contacted
    if connection.vendor == "postgresql":
        database = selectors._medians_postgres(qs, counts)
        assert {key: value for key, value in database.items() if any(value.values())} == window


def test_report_runs_a_fixed_number_of_queries(history, django_assert_num_queries):
    """No query per officer, opportunity or event: the profile, then 7 on PostgreSQL and 12 elsewhere (the score
    deciles are two: the ranked cohort and its unscored rest), and the period's campaigns (one; two more per
    campaign sent in the period: none here)."""
    with django_assert_num_queries(9 if connection.vendor == "postgresql" else 14):
        selectors.report_build(user=history.admin.user, period=WEEK)
