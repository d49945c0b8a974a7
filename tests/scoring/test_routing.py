from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError
from django.test import Client

from outreach.models import Enrollment, Message
from outreach.services import dispatch_due_messages, message_record_event
from pipeline.models import Activity, Opportunity
from scoring.models import ScoringPolicy
from scoring.services.digests import digests_queue
from scoring.services.routing import opportunities_route
from scoring.services.scores import opportunities_score
from tests.factories import ActivityFactory, LoanFactory, LoanProductFactory, OpportunityFactory
from tests.scoring.conftest import NOW


@pytest.fixture
def book(frozen, hpi, officer):  # type: ignore[no-untyped-def]
    """A hot opportunity (two clicks and a reply in the last month) and a cold one, scored with prior weights."""
    LoanProductFactory(organization=officer.organization)
    hot = OpportunityFactory(loan=LoanFactory(loan_officer=officer, borrower__first_name="Hana"))
    cold = OpportunityFactory(loan=LoanFactory(loan_officer=officer, borrower__first_name="Carl"))
    for kind in ("clicked", "clicked", "replied"):
        ActivityFactory(opportunity=hot, kind=kind, occurred_at=NOW - dt.timedelta(days=9))
    opportunities_score(organization=officer.organization)
    hot.refresh_from_db(), cold.refresh_from_db()
    assert hot.score > 0.20 > cold.score
    return hot, cold


def routing_on(organization, threshold: str = "20.00") -> ScoringPolicy:  # type: ignore[no-untyped-def]
    return ScoringPolicy.objects.create(
        organization=organization, routing_enabled=True, proactive_threshold=Decimal(threshold)
    )


def test_without_the_policy_nothing_is_routed(book, officer):
    assert opportunities_route(organization=officer.organization).proactive == 0
    assert not Enrollment.objects.exists() and not Activity.objects.filter(kind="call_task").exists()


def test_high_scores_get_the_sequence_and_a_call_task_once(book, officer):
    hot, cold = book
    routing_on(officer.organization)
    result = opportunities_route(organization=officer.organization)
    assert (result.proactive, result.enrolled) == (1, 1)
    assert Enrollment.objects.get().opportunity_id == hot.pk
    task = Activity.objects.get(kind=Activity.Kind.CALL_TASK)
    assert task.opportunity_id == hot.pk and "chance of an application within 90 days" in task.body
    hot.refresh_from_db()
    assert hot.attention_reason == "Call first: scored at or above 20 %"
    again = opportunities_route(organization=officer.organization)
    assert again.proactive == 0 and Activity.objects.filter(kind="call_task").count() == 1


def test_low_scores_get_one_digest_a_month_through_the_outbox(book, officer):
    hot, cold = book
    routing_on(officer.organization)
    opportunities_route(organization=officer.organization)
    result = digests_queue(organization=officer.organization)
    assert result.queued == 1 and result.month == dt.date(2026, 11, 1)
    digest = Message.objects.get(kind=Message.Kind.DIGEST)
    assert digest.borrower_id == cold.borrower_id and digest.enrollment_id is None
    assert digests_queue(organization=officer.organization).queued == 0  # idempotent within the month
    with pytest.raises(IntegrityError):
        Message.objects.create(
            organization=officer.organization,
            kind=Message.Kind.DIGEST,
            digest_month=dt.date(2026, 11, 1),
            opportunity=cold,
            borrower_id=cold.borrower_id,
            channel="email",
            due_at=NOW,
        )


def test_the_digest_is_sent_from_the_loan_officer_with_value_equity_rates_and_unsubscribe(book, officer):
    _hot, cold = book
    digests_queue(organization=officer.organization)
    mail.outbox.clear()
    stats = dispatch_due_messages()
    assert stats.sent >= 1
    email = next(m for m in mail.outbox if "your home and your mortgage in November 2026" in m.subject)
    assert officer.email in email.from_email and cold.borrower.email in email.to[0]
    body = email.body
    cold.refresh_from_db()
    assert f"Your home's estimated value: ${cold.estimated_value:,.2f}" in body
    assert "FHFA house price index for IL through 2024 Q4" in body
    assert f"Your estimated equity: ${cold.equity:,.2f}" in body
    assert "Your rate is 7.250\xa0%. Today's rate for a Conforming loan is 6.125\xa0%" in body  # one rate format
    assert "your payment would go from $2,728.71 to about $2,448.23, $280.48 less a month" in body
    assert "Cash-out: you could take out up to" in body and "A new 30-year loan of" in body
    assert "Book a time with me: https://refi.example.test/r/" in body
    assert "100 Main Street" in body and "Unsubscribe with one click" in body
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    digest = Message.objects.get(kind=Message.Kind.DIGEST)
    assert digest.status == Message.Status.SENT
    assert Activity.objects.filter(message_id=digest.pk, kind="sent", body__startswith="Monthly digest").exists()


def test_the_digest_waits_for_quiet_hours(book, officer, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC), tick=False)  # 1:00 in Chicago
    digests_queue(organization=officer.organization)
    dispatch_due_messages()
    digest = Message.objects.get(kind=Message.Kind.DIGEST)
    assert digest.status == Message.Status.SCHEDULED and "Quiet hours" in digest.hold_reason
    assert digest.due_at == dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)  # 8:00 in Chicago


def test_no_consent_no_digest_and_one_click_unsubscribe_cancels_it(book, officer):
    digests_queue(organization=officer.organization)
    digest = Message.objects.get(kind=Message.Kind.DIGEST)
    link = re.search(r"Unsubscribe with one click: https://refi\.example\.test(/u/\S+/)", digest.body)
    response = Client().post(link.group(1), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    digest.refresh_from_db()
    assert digest.status == Message.Status.CANCELLED
    Message.objects.filter(pk=digest.pk).delete()
    assert digests_queue(organization=officer.organization).queued == 0  # opted out: not queued again


def test_engagement_with_the_digest_feeds_the_score_and_moves_the_borrower_to_proactive(book, officer, time_machine):
    _hot, cold = book
    routing_on(officer.organization, threshold="12.00")
    opportunities_route(organization=officer.organization)
    digests_queue(organization=officer.organization)
    dispatch_due_messages()
    digest = Message.objects.get(kind=Message.Kind.DIGEST)
    before = Opportunity.objects.get(pk=cold.pk).score
    for hours in (1, 2, 3):
        message_record_event(message=digest, kind="opened", occurred_at=NOW + dt.timedelta(hours=hours))
        digest.opened_at = None
        Message.objects.filter(pk=digest.pk).update(opened_at=None)
    time_machine.move_to(NOW + dt.timedelta(days=1), tick=False)  # the next nightly scoring
    opportunities_score(organization=officer.organization)
    after = Opportunity.objects.get(pk=cold.pk).score
    assert before < 0.12 <= after
    assert opportunities_route(organization=officer.organization).proactive == 1
    assert Activity.objects.filter(kind="call_task", opportunity=cold).exists()


def test_dry_run_lists_recipients_and_renders_one_digest_without_writing(book, officer):
    result = digests_queue(organization=officer.organization, dry_run=True)
    assert len(result.recipients) == 1 and "Carl" in result.recipients[0][0]
    assert "Hi Carl," in result.sample.text and not Message.objects.filter(kind="digest").exists()
