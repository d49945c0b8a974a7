from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import responses
from django.core import mail
from django.core.management import call_command

from loans.models import ConsentEvent
from outreach.models import Enrollment, LocalSms, Message
from outreach.services.dispatch import (
    Dispatcher,
    dispatch_due_messages,
    message_requeue,
    messages_claim,
)
from outreach.services.enrollments import enrollment_create
from outreach.services.recording import MAX_ATTEMPTS, STUCK_AFTER
from outreach.sms import LocalSmsBackend, SmsPermanentError, SmsTransientError, SmsUnknownOutcome
from pipeline.models import Activity, Opportunity
from tests.factories import OpportunityFactory
from tests.outreach.conftest import MONDAY_9AM_CHICAGO, fresh_rates, make_sequence

pytestmark = pytest.mark.django_db


def enroll(opportunity, steps=((1, "email"), (1, "sms"))):  # type: ignore[no-untyped-def]
    return enrollment_create(opportunity=opportunity, sequence=make_sequence(opportunity.organization, list(steps)))


def outreach_mail():  # type: ignore[no-untyped-def]
    """Messages in the outbox that are outreach (not loan-officer notifications)."""
    return [m for m in mail.outbox if "List-Unsubscribe" in m.extra_headers]


class ScriptedSms(LocalSmsBackend):
    """The local backend with scripted provider answers (the provider edge, not our code)."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)

    def send(self, **kwargs):  # type: ignore[no-untyped-def]
        if self.errors:
            raise self.errors.pop(0)
        return super().send(**kwargs)


def test_sends_due_email_and_sms_once_and_records_the_timeline(opportunity):
    enrollment = enroll(opportunity)
    stats = dispatch_due_messages()
    assert (stats.claimed, stats.sent) == (2, 2)

    email = outreach_mail()[0]
    officer = opportunity.loan_officer
    assert email.from_email == f"{officer.display_name} <{officer.email}>"
    assert email.reply_to == [officer.email]
    assert email.to == [f"Ana O'Neil <{opportunity.borrower.email}>"]
    assert email.subject == "Ana, save $280.48 a month"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.extra_headers["List-Unsubscribe"].startswith("<https://refi.example.test/u/")
    html = email.alternatives[0][0]
    assert "100 Main Street, Suite 200, Springfield, IL 62701" in email.body and "O&#x27;Neil" not in email.body
    assert "Unsubscribe" in html and "https://refi.example.test/u/" in html
    assert email.anymail_test_params["metadata"] == {"outreach_message": str(email_message(enrollment).pk)}

    sms = LocalSms.objects.get()
    assert sms.to == opportunity.borrower.mobile_phone
    assert sms.body.startswith(f"Hi Ana, {officer.display_name} here. Save $280.48/mo: https://refi.example.test/r/")
    assert sms.body.endswith("Reply STOP to opt out.")

    messages = {m.channel: m for m in enrollment.messages.all()}
    assert {m.status for m in messages.values()} == {"sent"}
    assert messages["sms"].provider_message_id == sms.sid
    assert messages["email"].provider_message_id == "0"  # the anymail test backend's id
    sent = Activity.objects.filter(kind="sent").order_by("channel")
    assert [(a.channel, a.message_id) for a in sent] == [("email", messages["email"].pk), ("sms", messages["sms"].pk)]
    opportunity.refresh_from_db()
    assert opportunity.stage == "contacted" and opportunity.last_contacted_at == MONDAY_9AM_CHICAGO
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"

    again = dispatch_due_messages()
    assert (again.claimed, again.sent, LocalSms.objects.count(), len(outreach_mail())) == (0, 0, 1, 1)


def email_message(enrollment):  # type: ignore[no-untyped-def]
    return enrollment.messages.get(channel="email")


def test_future_steps_wait_for_their_day(opportunity, frozen):
    enrollment = enroll(opportunity, steps=((1, "email"), (4, "sms")))
    dispatch_due_messages()
    assert LocalSms.objects.count() == 0
    sms = enrollment.messages.get(channel="sms")
    # Day 4 starts at midnight Chicago on Thursday 2026-11-26 = 06:00 UTC; 8:00 local is 14:00 UTC.
    assert sms.due_at == dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)
    frozen.move_to(dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC), tick=False)
    stats = dispatch_due_messages()
    assert (stats.claimed, stats.held, LocalSms.objects.count()) == (1, 1, 0)
    sms.refresh_from_db()
    # Day 4 is Thanksgiving: no sends on a federal holiday, so Friday 8:00 Chicago.
    assert (sms.status, sms.due_at) == ("scheduled", dt.datetime(2026, 11, 27, 14, 0, tzinfo=dt.UTC))
    assert sms.hold_reason == "US federal holiday (Thanksgiving Day): waits for the next day, 8:00 America/Chicago."
    frozen.move_to(dt.datetime(2026, 11, 27, 14, 0, tzinfo=dt.UTC), tick=False)
    assert dispatch_due_messages().sent == 1


@pytest.mark.parametrize(
    ("timezone", "utc_hour", "sends"),
    [
        ("America/New_York", 12, False),  # 7:00 EST
        ("America/New_York", 13, True),  # 8:00 EST
        ("America/Los_Angeles", 15, False),  # 7:00 PST
        ("America/Los_Angeles", 16, True),  # 8:00 PST
        ("Pacific/Honolulu", 18, True),  # 8:00 HST
        ("America/Chicago", 3, False),  # 21:00 CST the evening before
    ],
)
def test_quiet_hours_in_the_borrowers_timezone(frozen, officer, timezone, utc_hour, sends):
    frozen.move_to(dt.datetime(2026, 11, 23, utc_hour, 0, tzinfo=dt.UTC), tick=False)
    opp = OpportunityFactory(loan__loan_officer=officer, loan__borrower__timezone=timezone)
    fresh_rates(opp.organization)
    enroll(opp, steps=((1, "sms"),))
    Message.objects.update(due_at=dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
    stats = dispatch_due_messages()
    assert (stats.sent, LocalSms.objects.count()) == ((1, 1) if sends else (0, 0))


def test_quiet_hours_hold_moves_to_8am_after_the_dst_change(frozen, officer):
    # Saturday 2026-10-31 21:30 EDT (01:30 UTC Sunday): too late; Sunday 8:00 is EST after the change (13:00 UTC).
    frozen.move_to(dt.datetime(2026, 11, 1, 1, 30, tzinfo=dt.UTC), tick=False)
    opp = OpportunityFactory(loan__loan_officer=officer, loan__borrower__timezone="America/New_York")
    fresh_rates(opp.organization, date=dt.date(2026, 10, 30))
    enrollment = enroll(opp, steps=((1, "sms"),))
    dispatch_due_messages()
    message = enrollment.messages.get()
    assert (message.status, message.due_at) == ("scheduled", dt.datetime(2026, 11, 1, 13, 0, tzinfo=dt.UTC))
    frozen.move_to(dt.datetime(2026, 11, 1, 12, 59, tzinfo=dt.UTC), tick=False)
    assert dispatch_due_messages().claimed == 0
    frozen.move_to(dt.datetime(2026, 11, 1, 13, 0, tzinfo=dt.UTC), tick=False)
    assert dispatch_due_messages().sent == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sms_consent": False}, "No SMS express written consent."),
        ({"sms_opted_out_at": MONDAY_9AM_CHICAGO}, "Borrower opted out of SMS."),
        ({"do_not_contact": True}, "Borrower is marked do-not-contact."),
        ({"sms_undeliverable_reason": "Landline"}, "SMS undeliverable: Landline"),
        ({"mobile_phone": ""}, "No mobile number."),
    ],
)
def test_never_sends_without_consent_or_after_opt_out(opportunity, change, reason):
    enrollment = enroll(opportunity, steps=((1, "sms"),))
    for field, value in change.items():
        setattr(opportunity.borrower, field, value)
    opportunity.borrower.save()
    stats = dispatch_due_messages()
    message = enrollment.messages.get()
    assert (stats.suppressed, message.status, message.error_message) == (1, "suppressed", reason)
    assert LocalSms.objects.count() == 0


def test_email_without_consent_is_suppressed(opportunity):
    opportunity.borrower.email_consent = False
    opportunity.borrower.save()
    enroll(opportunity, steps=((1, "email"),))
    assert dispatch_due_messages().suppressed == 1
    assert outreach_mail() == []


def test_stale_rates_hold_the_message_and_say_why(frozen, officer):
    opp = OpportunityFactory(loan__loan_officer=officer)
    fresh_rates(opp.organization, date=dt.date(2026, 11, 10))  # 13 days old; the limit is 7
    enrollment = enroll(opp, steps=((1, "email"),))
    stats = dispatch_due_messages()
    message = enrollment.messages.get()
    assert (stats.held, message.status, outreach_mail()) == (1, "scheduled", [])
    assert message.hold_reason == "Waiting for fresh rates: Conforming 30-year rate is from 2026-11-10."
    assert message.due_at == MONDAY_9AM_CHICAGO + dt.timedelta(hours=1)


def test_missing_rate_blocks_the_send(frozen, officer):
    opp = OpportunityFactory(loan__loan_officer=officer)
    enroll(opp, steps=((1, "email"),))
    dispatch_due_messages()
    assert Message.objects.get().hold_reason == "Waiting for rates: no market rate for Conforming 30-year."


@pytest.mark.parametrize(("stage", "reason"), [("application", "application"), ("won", "won"), ("lost", "closed")])
def test_closed_or_applied_opportunity_stops_the_sequence_at_send_time(opportunity, stage, reason):
    enrollment = enroll(opportunity, steps=((1, "email"), (4, "sms")))
    Opportunity.objects.filter(pk=opportunity.pk).update(stage=stage)
    stats = dispatch_due_messages()
    enrollment.refresh_from_db()
    assert (stats.cancelled, enrollment.status, enrollment.stop_reason) == (1, "stopped", reason)
    assert set(enrollment.messages.values_list("status", flat=True)) == {"cancelled"}
    assert outreach_mail() == []


def test_paused_enrollment_is_not_claimed(opportunity):
    from outreach.services.enrollments import enrollment_pause

    enrollment = enroll(opportunity, steps=((1, "email"),))
    enrollment_pause(enrollment=enrollment)
    assert dispatch_due_messages().claimed == 0


def test_transient_errors_retry_with_backoff_then_give_up(opportunity, frozen):
    enrollment = enroll(opportunity, steps=((1, "sms"),))
    gateway = ScriptedSms(*[SmsTransientError("Too many requests", code="20429") for _ in range(MAX_ATTEMPTS)])
    message = enrollment.messages.get()
    delays = []
    for attempt in range(1, MAX_ATTEMPTS):
        Dispatcher(sms_gateway=gateway).run()
        message.refresh_from_db()
        assert (message.status, message.attempts, message.error_code) == ("scheduled", attempt, "20429")
        delays.append(int((message.due_at - dt.datetime.now(dt.UTC)).total_seconds()))
        frozen.move_to(message.due_at, tick=False)
    assert delays == [60, 300, 1800, 7200]
    Dispatcher(sms_gateway=gateway).run()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", MAX_ATTEMPTS)
    assert Activity.objects.filter(kind="failed", message_id=message.pk).count() == 1
    assert LocalSms.objects.count() == 0


def test_transient_error_then_success_sends_once(opportunity, frozen):
    enrollment = enroll(opportunity, steps=((1, "sms"),))
    gateway = ScriptedSms(SmsTransientError("Service unavailable", code="503"))
    Dispatcher(sms_gateway=gateway).run()
    frozen.move_to(MONDAY_9AM_CHICAGO + dt.timedelta(minutes=1), tick=False)
    Dispatcher(sms_gateway=gateway).run()
    message = enrollment.messages.get()
    assert (message.status, message.attempts, LocalSms.objects.count()) == ("sent", 2, 1)


@pytest.mark.parametrize(
    ("error", "field", "value", "action"),
    [
        (SmsPermanentError("bad", code="21211", borrower_reason="Invalid phone number (Twilio 21211)"),
         "sms_undeliverable_reason", "Invalid phone number (Twilio 21211)", "undeliverable"),
        (SmsPermanentError("landline", code="21614", borrower_reason="Not a mobile number (Twilio 21614)"),
         "sms_undeliverable_reason", "Not a mobile number (Twilio 21614)", "undeliverable"),
        (SmsPermanentError("opted out", code="21610", opted_out=True),
         "sms_opted_out_at", MONDAY_9AM_CHICAGO, "revoked"),
    ],
)  # fmt: skip
def test_permanent_sms_errors_stop_the_channel_for_the_borrower(opportunity, frozen, error, field, value, action):
    enrollment = enroll(opportunity, steps=((1, "sms"), (1, "email"), (4, "sms")))
    Dispatcher(sms_gateway=ScriptedSms(error)).run()
    borrower = opportunity.borrower
    borrower.refresh_from_db()
    assert getattr(borrower, field) == value
    statuses = dict(enrollment.messages.values_list("step__position", "status"))
    assert statuses == {1: "failed", 2: "sent", 3: "cancelled"}
    event = ConsentEvent.objects.get(borrower=borrower)
    assert (event.channel, event.action) == ("sms", action)
    failed = enrollment.messages.get(step__position=1)
    assert failed.error_code == error.code
    assert Activity.objects.filter(kind="failed", message_id=failed.pk).count() == 1


POSTMARK_URL = "https://api.postmarkapp.com/email"


@pytest.fixture
def postmark(settings):  # type: ignore[no-untyped-def]
    """A real ESP backend (Postmark) with its HTTP API replaced at the boundary."""
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_SERVER_TOKEN": "server-token"}
    with responses.RequestsMock() as mocked:
        yield mocked


def test_postmark_send_records_postmarks_message_id(opportunity, postmark):
    postmark.post(
        POSTMARK_URL,
        json={
            "To": opportunity.borrower.email,
            "SubmittedAt": "2026-11-23T09:00:00.0000000-06:00",
            "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
            "ErrorCode": 0,
            "Message": "OK",
        },
    )
    enrollment = enroll(opportunity, steps=((1, "email"),))
    dispatch_due_messages()
    message = enrollment.messages.get()
    assert (message.status, message.provider_message_id) == ("sent", "b7bc2f4a-e38e-4336-af7d-e6c392c2f817")
    sent = json.loads(postmark.calls[0].request.body)
    assert sent["ReplyTo"] == opportunity.loan_officer.email
    assert sent["Metadata"] == {"outreach_message": str(message.pk)}
    assert {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"} in sent["Headers"]


def test_hard_bounce_at_send_marks_the_email_undeliverable(opportunity, postmark):
    postmark.post(
        POSTMARK_URL,
        status=422,
        json={
            "ErrorCode": 406,
            "Message": "You tried to send to a recipient that has been marked as inactive. Found inactive addresses: "
            f"{opportunity.borrower.email}. Inactive recipients are ones that have generated a hard bounce.",
        },
    )
    enrollment = enroll(opportunity, steps=((1, "email"), (4, "email")))
    dispatch_due_messages()
    first, later = enrollment.messages.order_by("step__position")
    opportunity.borrower.refresh_from_db()
    assert (first.status, later.status) == ("failed", "cancelled")
    assert opportunity.borrower.email_undeliverable_reason == "Address rejected by the email provider"
    assert Activity.objects.filter(kind="bounced", message_id=first.pk, channel="email").count() == 1
    assert ConsentEvent.objects.get().action == "undeliverable"


def test_esp_5xx_is_retried_and_4xx_fails(opportunity, postmark):
    postmark.post(POSTMARK_URL, status=500, json={"ErrorCode": 500, "Message": "Internal server error"})
    enrollment = enroll(opportunity, steps=((1, "email"),))
    stats = dispatch_due_messages()
    message = enrollment.messages.get()
    assert (stats.retried, message.status, message.error_code) == (1, "scheduled", "500")

    postmark.replace(
        responses.POST, POSTMARK_URL, status=422, json={"ErrorCode": 300, "Message": "Invalid email request"}
    )
    Message.objects.update(due_at=MONDAY_9AM_CHICAGO)
    stats = dispatch_due_messages()
    message.refresh_from_db()
    assert (stats.failed, message.status, message.error_code) == (1, "failed", "422")


# ----- exactly once under a simulated crash ----------------------------------------------------------------


def test_worker_killed_after_claim_before_send_is_requeued_and_sent_once(opportunity, frozen):
    enrollment = enroll(opportunity, steps=((1, "sms"),))
    token, claimed = messages_claim()  # the worker claimed the row ... and died
    assert len(claimed) == 1
    assert dispatch_due_messages().claimed == 0  # a claimed row is not handed out again
    frozen.move_to(MONDAY_9AM_CHICAGO + STUCK_AFTER + dt.timedelta(seconds=1), tick=False)
    stats = dispatch_due_messages()
    assert (stats.requeued, stats.sent) == (1, 1)
    assert LocalSms.objects.count() == 1
    assert enrollment.messages.get().status == "sent"
    assert Activity.objects.filter(kind="sent").count() == 1


class CrashAfterProviderAccepted(LocalSmsBackend):
    """The provider accepts the message, then the worker process dies before recording it."""

    def send(self, **kwargs):  # type: ignore[no-untyped-def]
        super().send(**kwargs)
        raise KeyboardInterrupt("worker killed")


def test_worker_killed_after_send_is_reconciled_not_resent(opportunity, frozen):
    enrollment = enroll(opportunity, steps=((1, "sms"),))
    with pytest.raises(KeyboardInterrupt):
        Dispatcher(sms_gateway=CrashAfterProviderAccepted()).run()
    message = enrollment.messages.get()
    assert (message.status, LocalSms.objects.count()) == ("sending", 1)
    assert dispatch_due_messages().sent == 0  # not stuck long enough yet: nothing happens
    frozen.move_to(MONDAY_9AM_CHICAGO + STUCK_AFTER + dt.timedelta(seconds=1), tick=False)
    stats = dispatch_due_messages()
    message.refresh_from_db()
    assert (stats.reconciled_sent, stats.sent, message.status) == (1, 0, "sent")
    assert message.provider_message_id == LocalSms.objects.get().sid
    assert LocalSms.objects.count() == 1
    assert Activity.objects.filter(kind="sent", message_id=message.pk).count() == 1


def test_the_local_provider_itself_is_idempotent(opportunity):
    backend = LocalSmsBackend()
    first = backend.send(to="+13125550000", body="a", idempotency_key="k1")
    second = backend.send(to="+13125550000", body="a", idempotency_key="k1")
    assert first == second and LocalSms.objects.count() == 1


def test_no_answer_from_provider_keeps_the_row_for_reconciliation(opportunity, frozen):
    enrollment = enroll(opportunity, steps=((1, "sms"),))
    stats = Dispatcher(sms_gateway=ScriptedSms(SmsUnknownOutcome("read timeout"))).run()
    message = enrollment.messages.get()
    assert (stats.unknown, message.status, message.error_code) == (1, "sending", "no_answer")
    frozen.move_to(MONDAY_9AM_CHICAGO + STUCK_AFTER + dt.timedelta(seconds=1), tick=False)
    stats = dispatch_due_messages()  # the local provider confirms nothing was created → re-queued and sent once
    assert (stats.requeued, stats.sent, LocalSms.objects.count()) == (1, 1, 1)


class EspThatDiesOnCall:
    """An email connection (the ESP edge): accepts messages into mail.outbox; on call number ``die_on`` it takes
    the message and the worker dies before hearing back (KeyboardInterrupt stands for the kill)."""

    def __init__(self, die_on: int) -> None:
        from anymail.backends.test import EmailBackend

        self.backend, self.calls, self.die_on = EmailBackend(), 0, die_on

    def send_messages(self, messages):  # type: ignore[no-untyped-def]
        self.calls += 1
        sent = self.backend.send_messages(messages)
        if self.calls == self.die_on:
            raise KeyboardInterrupt("worker killed while the ESP had the message")
        return sent

    def close(self) -> None:
        pass


def test_stuck_email_handed_to_the_esp_becomes_unconfirmed_for_review_and_can_be_requeued(opportunity, frozen):
    enrollment = enroll(opportunity, steps=((1, "email"),))
    with pytest.raises(KeyboardInterrupt):
        Dispatcher(email_connection=EspThatDiesOnCall(die_on=1)).run()
    assert len(outreach_mail()) == 1
    frozen.move_to(MONDAY_9AM_CHICAGO + STUCK_AFTER + dt.timedelta(seconds=1), tick=False)
    stats = dispatch_due_messages()
    message = enrollment.messages.get()
    assert (stats.unconfirmed, message.status, message.error_code) == (1, "failed", "unconfirmed")
    assert message.handed_at is not None and len(outreach_mail()) == 1  # never re-sent blindly
    message_requeue(message=message)  # a manager checked the ESP's log: it was not sent
    assert dispatch_due_messages().sent == 1
    assert len(outreach_mail()) == 2


def test_stuck_email_never_handed_over_is_requeued_and_sent_once(opportunity, frozen):
    enrollment = enroll(opportunity, steps=((1, "email"),))
    messages_claim()  # the worker claimed the row ... and died before its turn
    frozen.move_to(MONDAY_9AM_CHICAGO + STUCK_AFTER + dt.timedelta(seconds=1), tick=False)
    stats = dispatch_due_messages()
    message = enrollment.messages.get()
    assert (stats.requeued, stats.sent, stats.unconfirmed, message.status) == (1, 1, 0, "sent")
    assert len(outreach_mail()) == 1


def test_a_worker_killed_mid_batch_strands_only_the_email_it_was_handing_over(frozen, officer):
    opportunities = [OpportunityFactory(loan__loan_officer=officer) for _ in range(5)]
    fresh_rates(opportunities[0].organization)
    sequence = make_sequence(officer.organization, [(1, "email")])
    messages = [enrollment_create(opportunity=opp, sequence=sequence).messages.get() for opp in opportunities]
    with pytest.raises(KeyboardInterrupt):
        Dispatcher(email_connection=EspThatDiesOnCall(die_on=3)).run()
    handed = Message.objects.filter(handed_at__isnull=False).order_by("pk")
    assert [m.status for m in handed] == ["sent", "sent", "sending"] and handed.count() == 3
    frozen.move_to(MONDAY_9AM_CHICAGO + STUCK_AFTER + dt.timedelta(seconds=1), tick=False)
    stats = dispatch_due_messages()
    assert (stats.requeued, stats.sent, stats.unconfirmed) == (2, 2, 1)
    received = [int(m.metadata["outreach_message"]) for m in outreach_mail()]
    assert sorted(received) == sorted(m.pk for m in messages)  # every message reached the ESP exactly once
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert sorted(statuses.values()) == ["failed", "sent", "sent", "sent", "sent"]


def test_two_dispatchers_claim_disjoint_rows(frozen, officer):
    opps = [OpportunityFactory(loan__loan_officer=officer) for _ in range(3)]
    fresh_rates(opps[0].organization)
    sequence = make_sequence(opps[0].organization, [(1, "sms")])
    for opp in opps:
        enrollment_create(opportunity=opp, sequence=sequence)
    _, first = messages_claim(limit=2)
    _, second = messages_claim(limit=2)
    assert len(first) == 2 and len(second) == 1 and not set(first) & set(second)


def test_command_runs_one_pass(opportunity, capsys):
    enroll(opportunity, steps=((1, "sms"),))
    call_command("dispatch_outreach")
    assert "sent=1" in capsys.readouterr().out
    assert LocalSms.objects.count() == 1


def test_no_loan_officer_fails_visibly(opportunity):
    enrollment = enroll(opportunity, steps=((1, "email"),))
    Opportunity.objects.filter(pk=opportunity.pk).update(loan_officer=None)
    dispatch_due_messages()
    message = enrollment.messages.get()
    assert (message.status, message.error_code) == ("failed", "no_officer")


def test_template_is_sandboxed_and_autoescaped(opportunity):
    sequence = make_sequence(opportunity.organization, [(1, "email")])
    step = sequence.steps.get()
    step.body_template = "<b>{{ borrower_first_name }}</b> {{ lo_name }}"
    step.save()
    opportunity.loan_officer.display_name = "Jo <script>alert(1)</script>"
    opportunity.loan_officer.save()
    enrollment_create(opportunity=opportunity, sequence=sequence)
    dispatch_due_messages()
    html = outreach_mail()[0].alternatives[0][0]
    assert "<b>Ana</b> Jo &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert Enrollment.objects.get().messages.get().status == "sent"
    assert Decimal("280.48") == opportunity.monthly_savings


def test_no_longer_qualifying_opportunity_is_held_not_advertised_then_resumes(opportunity):
    enrollment = enroll(opportunity, steps=((1, "sms"),))
    Opportunity.objects.filter(pk=opportunity.pk).update(qualifies=False)
    stats = dispatch_due_messages()
    message = enrollment.messages.get()
    assert (stats.held, message.status, LocalSms.objects.count()) == (1, "scheduled", 0)
    assert message.hold_reason == "No longer qualifies at today's rate: waits until a match finds it again."

    Opportunity.objects.filter(pk=opportunity.pk).update(qualifies=True)
    Message.objects.filter(pk=message.pk).update(due_at=MONDAY_9AM_CHICAGO)
    dispatch_due_messages()
    message.refresh_from_db()
    assert (message.status, LocalSms.objects.count()) == ("sent", 1)


def test_savings_from_an_old_match_are_not_quoted(opportunity):
    enrollment = enroll(opportunity, steps=((1, "email"),))
    Opportunity.objects.filter(pk=opportunity.pk).update(market_rate_date=dt.date(2026, 11, 10))
    dispatch_due_messages()
    message = enrollment.messages.get()
    assert (message.status, outreach_mail()) == ("scheduled", [])
    assert message.hold_reason == "Savings were computed on the 2026-11-10 rate: waits for a new match."


def test_paid_off_loan_stops_the_sequence(opportunity):
    enrollment = enroll(opportunity, steps=((1, "email"), (4, "sms")))
    type(opportunity.loan).objects.filter(pk=opportunity.loan_id).update(status="paid_off")
    stats = dispatch_due_messages()
    enrollment.refresh_from_db()
    assert (stats.cancelled, enrollment.status, enrollment.stop_reason) == (1, "stopped", "closed")
    assert set(enrollment.messages.values_list("status", flat=True)) == {"cancelled"}
