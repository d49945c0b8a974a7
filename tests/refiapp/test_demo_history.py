"""The demo lender opens with twelve weeks of history: the reports page and the Monday email have a shape."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Max, Min
from django.test import Client

from core.models import LoanOfficer
from loans.models import Borrower, ConsentEvent, Loan
from outreach.models import BookingRequest, Enrollment, LocalSms, Message
from pipeline.models import Activity, MatchRun, Opportunity
from rates.models import RateObservation
from refinance.models import RefinanceEvent, RefinanceTransaction
from reports.periods import last_full_week_start, week_period
from reports.selectors import report_build
from reports.services import weekly_report_build

pytestmark = pytest.mark.django_db

# A Wednesday afternoon in Chicago: the history is the twelve weeks before its week (with Christmas, New Year's Day,
# MLK Day and Presidents' Day in it) and that week's Monday and Tuesday.
NOW = dt.datetime(2026, 3, 18, 20, 0, tzinfo=dt.UTC)


@pytest.fixture
def demo(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with time_machine.travel(NOW, tick=False):
        out = StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()


def _client(username: str) -> Client:
    client = Client()
    client.force_login(LoanOfficer.objects.get(user__username=username).user)
    return client


def test_the_reports_page_shows_twelve_weeks_of_history(demo):
    assert "history 2025-12-22 to 2026-03-17: 12 weekly matches" in demo
    response = _client("rachel.torres").get("/reports/", {"preset": "quarter"})
    assert response.status_code == 200
    total = response.context["report"].total.current
    assert total["sent_email"] > 0 and total["sent_sms"] > 0
    for key in ("delivered", "opened", "clicked", "replied", "appointments", "applications", "won"):
        assert total[key] > 0, key
    funnel = {key: count for key, _label, count, _share in response.context["report"].funnel}
    assert funnel["identified"] > funnel["contacted"] > funnel["opened"] > funnel["won"] > 0
    bands = [row for row in response.context["report"].bands if row.identified]
    assert len(bands) >= 2  # the spread bands have a shape, not one bar
    # The default page (the last seven days) is not empty either.
    week = _client("rachel.torres").get("/reports/").context["report"].total.current
    assert week["sent_email"] + week["sent_sms"] > 0 and week["opened"] > 0


def test_the_branch_managers_weekly_report_has_numbers(demo):
    manager = LoanOfficer.objects.get(user__username="daniel.kim")
    week_start = last_full_week_start(timezone=manager.organization.timezone, now=NOW)
    email = weekly_report_build(recipient=manager, week_start=week_start, now=NOW)
    assert "branch Chicago Loop" in email.subject
    report = report_build(
        user=manager.user, period=week_period(week_start, timezone=manager.organization.timezone), now=NOW
    )
    total = report.total.current
    assert total["sent_email"] + total["sent_sms"] > 0
    assert total["delivered"] > 0 and total["opened"] > 0
    assert report.cohort_total.identified > 0


def test_the_history_spans_twelve_weeks_through_the_real_services(demo):
    sends = Activity.objects.filter(organization__slug="demo", kind=Activity.Kind.SENT)
    span = sends.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    assert span["last"] - span["first"] >= dt.timedelta(weeks=11)
    assert span["first"] >= dt.datetime(2025, 12, 22, tzinfo=ZoneInfo("America/Chicago"))  # 12 weeks before Monday
    # Matches ran on the week's rates (the desk rate sheet replays the shipped FRED history), and nothing was
    # sent outside the local gateways.
    assert MatchRun.objects.filter(organization__slug="demo", as_of__lt=NOW.date()).count() == 12
    assert LocalSms.objects.exists()
    assert Message.objects.filter(status=Message.Status.DELIVERED, channel="email").exists()
    assert RefinanceTransaction.objects.filter(status=RefinanceTransaction.Status.FUNDED).exists()
    assert Loan.objects.filter(status=Loan.Status.REFINANCED).exists()
    assert BookingRequest.objects.exists()
    assert Activity.objects.filter(kind=Activity.Kind.OPTED_OUT).exists()
    assert Activity.objects.filter(kind=Activity.Kind.BOUNCED).exists()


def test_a_second_seed_writes_nothing_new(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    models = [
        Activity, Opportunity, Message, Enrollment, BookingRequest, RefinanceTransaction, RefinanceEvent, Loan,
        Borrower, ConsentEvent, LocalSms, RateObservation,
    ]  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", "--loans", "120", stdout=StringIO())
        before = {model.__name__: model.objects.count() for model in models}
        assert before["Message"] and before["RefinanceTransaction"]
        out = StringIO()
        call_command("seed_demo", "--loans", "120", stdout=out)
    assert {model.__name__: model.objects.count() for model in models} == before
    assert "history: unchanged (already seeded)" in out.getvalue()
    assert "loans: 0 created, 0 updated, 120 unchanged" in out.getvalue()
