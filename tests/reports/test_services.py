from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from reports.models import WeeklyReportSend
from reports.services import STALE_CLAIM, weekly_report_build, weekly_report_recipients, weekly_report_send
from tests.factories import BranchManagerFactory, UserFactory

pytestmark = pytest.mark.django_db

WEEK_START = dt.date(2026, 11, 9)
PAGE = "https://refi.example.test/reports/?start=2026-11-09&end=2026-11-15"
# A closed local port: the SMTP connection is refused (the network edge fails, nothing of ours is mocked).
UNREACHABLE_SMTP = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "127.0.0.1",
    "EMAIL_PORT": 9,
}


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_recipients_are_active_managers_and_admins_of_the_org(history):
    BranchManagerFactory(organization=history.organization, branch=history.manager.branch, is_active=False)
    inactive_user = UserFactory(is_active=False)
    BranchManagerFactory(organization=history.organization, branch=history.manager.branch, user=inactive_user)
    recipients = list(weekly_report_recipients(organization=history.organization))
    assert recipients == [history.manager, history.admin, history.south_manager]


def test_branch_manager_email_has_the_branch_numbers_in_both_parts(history):
    email = weekly_report_build(recipient=history.manager, week_start=WEEK_START)
    assert email.to == "morgan@prairie.test"
    assert email.subject == "Prairie Lending refinance results, week of Nov 9, 2026 – Nov 15, 2026 (branch North)"
    text = email.text
    assert PAGE in text
    assert f"{PAGE}#definitions" in text
    lines = _lines(text)
    assert "Opportunities identified 5 2 +3 +150.0%" in lines
    assert "Appointments booked 2 0 +2 —" in lines
    assert "Loans won 2 1 +1 +100.0%" in lines
    assert "Est. origination revenue $8,000.00 $4,000.00 +$4,000.00 +100.0%" in lines
    # The officer table is one block per officer in the text part (too wide for one line each).
    alice_block = _lines(text.split("Alice Adams\n", 1)[1].split("\n\n", 1)[0])
    assert alice_block[0] == "Opportunities identified 2 (+1)"
    assert alice_block[-1] == "Est. origination revenue $4,000.00 ($0.00)"
    assert "Contacted (first message sent) 3 60.0%" in lines
    assert "Carol Chen" not in text
    assert "Zed Outsider" not in text
    html = email.html
    assert f'href="{PAGE.replace("&", "&amp;")}"' in html
    assert ">Opportunities identified</td>" in html
    assert "Carol Chen" not in html


def test_org_admin_email_covers_the_whole_org(history):
    email = weekly_report_build(recipient=history.admin, week_start=WEEK_START)
    assert email.subject.endswith("(all of Prairie Lending)")
    assert "Opportunities identified 6 2 +4 +200.0%" in _lines(email.text)
    assert "Carol Chen" in email.text and "Carol Chen" in email.html
    assert "Zed Outsider" not in email.text


def test_send_emails_each_manager_once_with_html_and_text(history):
    outcomes = weekly_report_send(organization=history.organization, week_start=WEEK_START)
    assert [o.status for o in outcomes] == ["sent", "sent", "sent"]
    assert sorted(m.to[0] for m in mail.outbox) == ["morgan@prairie.test", "olivia@prairie.test", "sam@prairie.test"]
    message = next(m for m in mail.outbox if m.to == ["sam@prairie.test"])
    assert message.alternatives[0].mimetype == "text/html"
    assert "Carol Chen" in message.body and "Alice Adams" not in message.body
    rows = WeeklyReportSend.objects.filter(organization=history.organization, week_start=WEEK_START)
    assert rows.count() == 3
    assert all(row.sent_at is not None and row.attempts == 1 for row in rows)

    again = weekly_report_send(organization=history.organization, week_start=WEEK_START)
    assert [o.status for o in again] == ["skipped", "skipped", "skipped"]
    assert len(mail.outbox) == 3


def test_a_failed_send_is_released_and_retried_next_time(history):
    with override_settings(**UNREACHABLE_SMTP):
        outcomes = weekly_report_send(organization=history.organization, week_start=WEEK_START)
    assert {o.status for o in outcomes} == {"failed"}
    row = WeeklyReportSend.objects.get(recipient=history.manager, week_start=WEEK_START)
    assert row.sent_at is None and row.claimed_at is None and "ConnectionRefusedError" in row.error
    outcomes = weekly_report_send(organization=history.organization, week_start=WEEK_START)
    assert {o.status for o in outcomes} == {"sent"}
    row.refresh_from_db()
    assert row.attempts == 2 and row.error == "" and row.sent_at is not None
    assert len(mail.outbox) == 3


def test_a_live_claim_is_left_alone_and_a_stale_one_is_taken_over(history):
    now = timezone.now()
    for recipient, claimed_at in (
        (history.manager, now - dt.timedelta(minutes=1)),
        (history.admin, now - STALE_CLAIM - dt.timedelta(minutes=1)),
    ):
        WeeklyReportSend.objects.create(
            organization=history.organization,
            week_start=WEEK_START,
            recipient=recipient,
            to_email=recipient.email,
            claimed_at=claimed_at,
        )
    outcomes = {
        o.recipient.pk: o.status for o in weekly_report_send(organization=history.organization, week_start=WEEK_START)
    }
    assert outcomes == {history.manager.pk: "skipped", history.admin.pk: "sent", history.south_manager.pk: "sent"}
    assert sorted(m.to[0] for m in mail.outbox) == ["olivia@prairie.test", "sam@prairie.test"]


def test_resend_sends_again_on_purpose(history):
    weekly_report_send(organization=history.organization, week_start=WEEK_START)
    outcomes = weekly_report_send(organization=history.organization, week_start=WEEK_START, resend=True)
    assert {o.status for o in outcomes} == {"sent"}
    assert len(mail.outbox) == 6
    assert WeeklyReportSend.objects.filter(organization=history.organization).count() == 3


def test_dry_run_builds_every_email_and_sends_nothing(history):
    outcomes = weekly_report_send(organization=history.organization, week_start=WEEK_START, dry_run=True)
    assert [o.status for o in outcomes] == ["dry_run", "dry_run", "dry_run"]
    assert all(o.email and o.email.text for o in outcomes)
    assert mail.outbox == []
    assert not WeeklyReportSend.objects.exists()
