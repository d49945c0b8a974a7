from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from reports.models import WeeklyReportSend
from reports.tasks import send_due_weekly_reports
from tests.factories import BranchManagerFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def utc_org(history):
    """A second organization on UTC with one branch manager."""
    org = OrganizationFactory(name="Harbor Bank", slug="harbor", timezone="UTC")
    BranchManagerFactory(organization=org, branch__organization=org, email="hank@harbor.test")
    return org


def _to(messages) -> list[str]:
    return sorted(m.to[0] for m in messages)


def test_monday_eight_local_in_each_timezone_once_per_manager(history, utc_org):
    # Chicago organizations: Prairie (three managers) and the outsider's lender (one org admin).
    chicago = ["morgan@prairie.test", "olivia@prairie.test", "sam@prairie.test", history.other_admin.email]
    # Monday 08:10 UTC: Harbor's 08:10, Prairie's 02:10 (Chicago) — only Harbor is due.
    with time_machine.travel(dt.datetime(2026, 11, 16, 8, 10, tzinfo=UTC), tick=False):
        assert send_due_weekly_reports() == 1
        assert send_due_weekly_reports() == 0  # the task ran twice
    assert _to(mail.outbox) == ["hank@harbor.test"]
    # Monday 08:10 in Chicago (14:10 UTC): the Chicago lenders are due; Harbor already has its report.
    with time_machine.travel(dt.datetime(2026, 11, 16, 8, 10, tzinfo=CHICAGO), tick=False):
        assert send_due_weekly_reports() == 4
        assert send_due_weekly_reports() == 0
    assert _to(mail.outbox) == sorted(["hank@harbor.test", *chicago])
    # Later hours and days of the same week send nothing more.
    for when in (dt.datetime(2026, 11, 16, 9, 5, tzinfo=CHICAGO), dt.datetime(2026, 11, 19, 12, 0, tzinfo=CHICAGO)):
        with time_machine.travel(when, tick=False):
            assert send_due_weekly_reports() == 0
    assert len(mail.outbox) == 5
    assert set(WeeklyReportSend.objects.values_list("week_start", flat=True)) == {dt.date(2026, 11, 9)}
    prairie_mail = next(m for m in mail.outbox if m.to == ["olivia@prairie.test"])
    assert "week of Nov 9, 2026 – Nov 15, 2026" in prairie_mail.subject
    # The next Monday, the next week's report.
    with time_machine.travel(dt.datetime(2026, 11, 23, 8, 10, tzinfo=CHICAGO), tick=False):
        assert send_due_weekly_reports() == 5
    assert WeeklyReportSend.objects.filter(week_start=dt.date(2026, 11, 16)).count() == 5


def test_nothing_before_monday_eight_local(history):
    with time_machine.travel(dt.datetime(2026, 11, 16, 7, 50, tzinfo=CHICAGO), tick=False):
        WeeklyReportSend.objects.bulk_create(
            WeeklyReportSend(
                organization=r.organization,
                week_start=dt.date(2026, 11, 2),
                recipient=r,
                to_email=r.email,
                claimed_at=dt.datetime(2026, 11, 9, 14, 5, tzinfo=UTC),
                sent_at=dt.datetime(2026, 11, 9, 14, 5, tzinfo=UTC),
            )
            for r in (history.manager, history.admin, history.south_manager, history.other_admin)
        )
        assert send_due_weekly_reports() == 0
    assert mail.outbox == []


def test_a_late_run_still_sends_once(history):
    """The worker was down on Monday morning: Tuesday's first run sends the week's report, once."""
    with time_machine.travel(dt.datetime(2026, 11, 17, 15, 0, tzinfo=CHICAGO), tick=False):
        assert send_due_weekly_reports() == 4
        assert send_due_weekly_reports() == 0
    assert WeeklyReportSend.objects.get(recipient=history.admin).week_start == dt.date(2026, 11, 9)


def test_an_organization_with_a_broken_timezone_does_not_stop_the_others(history):
    OrganizationFactory(slug="broken", timezone="Mars/Olympus_Mons")
    with time_machine.travel(dt.datetime(2026, 11, 16, 8, 10, tzinfo=CHICAGO), tick=False):
        assert send_due_weekly_reports() == 4
