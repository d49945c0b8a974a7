"""The demo lender opens with twelve weeks of history: the reports page and the Monday email have a shape."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.db.models import Max, Min
from django.test import Client, override_settings

from automations.models import OfficerNotification
from campaigns.models import Campaign
from campaigns.selectors import campaign_stats
from core.models import LoanOfficer
from loans.models import Borrower, ConsentEvent, Loan
from outreach.models import BookingRequest, Enrollment, LocalSms, Message
from pipeline.models import Activity, MatchRun, Opportunity
from rates.models import RateObservation
from refiapp.demo_automations import DEMO_CRM_URL
from refinance.models import RefinanceEvent, RefinanceTransaction
from reports.periods import last_full_week_start, week_period
from reports.selectors import report_build
from reports.services import weekly_report_build
from webhooks import secrets as webhook_secrets
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

# A Wednesday afternoon in Chicago: the history is the twelve weeks before its week (with Christmas, New Year's Day,
# MLK Day and Presidents' Day in it) and that week's Monday and Tuesday.
NOW = dt.datetime(2026, 3, 18, 20, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """Seeded once for the module, in a transaction rolled back at its end (each test runs in a savepoint)."""
    media = tmp_path_factory.mktemp("media")
    # make demo allows the endpoint's local URL (its own receiver); without it the endpoint is skipped.
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=str(media), WEBHOOK_ALLOW_PRIVATE_URLS=True),
        time_machine.travel(NOW, tick=False),
        transaction.atomic(),
    ):
        out = StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


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


def test_the_demo_shows_a_lock_alert_a_campaign_and_a_webhook_endpoint(demo):
    assert "webhook endpoint: created" in demo
    demo_messages = Message.objects.filter(organization__slug="demo", sent_at__isnull=False)
    # Rate-lock alerts: queued by lock_alerts_run on their day, sent by the dispatcher, the officer notified.
    alerts = demo_messages.filter(kind=Message.Kind.LOCK_ALERT)
    assert alerts.exists()
    assert RefinanceTransaction.objects.filter(rate_lock_expiration__isnull=False).exists()
    notified = OfficerNotification.objects.filter(key__startswith="lock:refinance:", sent_at__isnull=False)
    assert set(notified.values_list("key", flat=True)) >= set(alerts.values_list("send_key", flat=True))
    # Status updates of the applications (initiated, approved, funded, cancelled) through status_updates_run.
    updates = demo_messages.filter(kind=Message.Kind.STATUS_UPDATE)
    assert updates.filter(subject__icontains="approved").exists() and updates.filter(subject__icontains="funded")
    # The branch manager's rate-alert campaign from the seed's quick-win filters, sent three weeks ago.
    campaign = Campaign.objects.get(organization__slug="demo")
    assert (campaign.status, campaign.created_by.username) == (Campaign.Status.SENT, "daniel.kim")
    assert campaign.filters == "note_within_months=36&min_spread=0.75" and campaign.recipient_count > 0
    assert NOW - dt.timedelta(weeks=4) < campaign.sent_at < NOW - dt.timedelta(weeks=2)
    stats = campaign_stats(campaign)
    assert stats.sent > 0 and stats.opened > 0 and stats.clicked > 0
    manager = _client("daniel.kim")
    assert campaign.name.encode() in manager.get("/campaigns/").content
    rows = manager.get("/reports/", {"preset": "quarter"}).context["tables"]["campaigns"].rows
    assert [[cell.text for cell in row][0] for row in rows] == [campaign.name]
    # One CRM endpoint: the demo's own receiver, its secret generated and stored encrypted.
    endpoint = WebhookEndpoint.objects.get(organization__slug="demo")
    assert endpoint.url == DEMO_CRM_URL and endpoint.is_active
    assert webhook_secrets.decrypt(endpoint.secret_encrypted).startswith("whsec_")


def test_a_second_seed_writes_nothing_new(demo):
    models = [
        Activity, Opportunity, Message, Enrollment, BookingRequest, RefinanceTransaction, RefinanceEvent, Loan,
        Borrower, ConsentEvent, LocalSms, RateObservation, Campaign, OfficerNotification, WebhookEndpoint,
    ]  # fmt: skip
    before = {model.__name__: model.objects.count() for model in models}
    assert before["Message"] and before["RefinanceTransaction"] and before["Campaign"] and before["WebhookEndpoint"]
    secret = WebhookEndpoint.objects.get().secret_encrypted
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
        out = StringIO()
        call_command("seed_demo", stdout=out)
    assert {model.__name__: model.objects.count() for model in models} == before
    assert WebhookEndpoint.objects.get().secret_encrypted == secret  # generated once
    assert "history: unchanged (already seeded)" in out.getvalue()
    assert "webhook endpoint: unchanged" in out.getvalue()
    assert "loans: 0 created, 0 updated, 300 unchanged" in out.getvalue()
