"""Provider webhooks in their documented shapes: anymail (SendGrid events, Postmark inbound) and Twilio."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.core import mail
from twilio.request_validator import RequestValidator

from loans.models import ConsentEvent
from outreach.models import Enrollment, LocalSms, Message, WebhookEvent
from outreach.services.dispatch import dispatch_due_messages
from outreach.services.enrollments import enrollment_create
from outreach.tasks import process_pending_webhook_events
from pipeline.models import Activity, Opportunity
from rates.models import RateSeries
from tests.factories import RateObservationFactory
from tests.outreach.conftest import make_sequence, sendgrid_sample

pytestmark = [
    pytest.mark.django_db,
    # anymail 15 warns that SendGrid is community-supported; its documented event shape is still what we test.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

AUTH = "Basic " + base64.b64encode(b"hook-user:hook-password").decode()
SMTP_ID = "<14c5d75ce93.dfd.64b469@ismtpd-555>"


@pytest.fixture
def sent(opportunity):  # type: ignore[no-untyped-def]
    """Day 1 email and SMS sent, a day 4 SMS and a day 10 email still scheduled."""
    sequence = make_sequence(opportunity.organization, [(1, "email"), (1, "sms"), (4, "sms"), (10, "email")])
    enrollment = enrollment_create(opportunity=opportunity, sequence=sequence)
    dispatch_due_messages()
    email = enrollment.messages.get(step__position=1)
    # The sample's smtp-id is what SendGrid reports as the message id for this email.
    Message.objects.filter(pk=email.pk).update(provider_message_id=SMTP_ID)
    mail.outbox.clear()
    return enrollment


def post_sendgrid(client, events, auth=AUTH):  # type: ignore[no-untyped-def]
    return client.post(
        "/anymail/sendgrid/tracking/", data=json.dumps(events), content_type="application/json", HTTP_AUTHORIZATION=auth
    )


def kinds(message):  # type: ignore[no-untyped-def]
    return sorted(Activity.objects.filter(message_id=message.pk).values_list("kind", flat=True))


# ----- anymail tracking -----------------------------------------------------------------------------------


def test_sendgrid_sample_is_stored_then_processed_once(client, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sendgrid(client, sendgrid_sample())
    assert response.status_code == 200
    assert WebhookEvent.objects.filter(provider="anymail").count() == 3
    assert not WebhookEvent.objects.filter(processed_at=None).exists()
    email = sent.messages.get(step__position=1)
    assert (email.status, email.delivered_at.isoformat()) == ("delivered", "2017-12-15T00:59:29+00:00")
    assert kinds(email) == ["delivered", "queued", "sent"]

    with django_capture_on_commit_callbacks(execute=True):
        assert post_sendgrid(client, sendgrid_sample()).status_code == 200  # the ESP retries the same batch
    assert WebhookEvent.objects.count() == 3
    assert kinds(email) == ["delivered", "queued", "sent"]


def test_wrong_basic_auth_is_rejected_and_nothing_is_stored(client, sent):
    assert (
        post_sendgrid(client, sendgrid_sample(), auth="Basic " + base64.b64encode(b"x:y").decode()).status_code == 400
    )
    assert post_sendgrid(client, sendgrid_sample(), auth="").status_code == 400
    assert not WebhookEvent.objects.exists()


def event(kind, event_id, **extra):  # type: ignore[no-untyped-def]
    row = {
        "email": "borrower@mail.example.com",
        "timestamp": 1795453200,
        "smtp-id": SMTP_ID,
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": "sg_message_id",
    }
    row.update(extra)
    return row


def test_out_of_order_and_duplicate_events_record_each_event_once(client, sent, django_capture_on_commit_callbacks):
    email = sent.messages.get(step__position=1)
    with django_capture_on_commit_callbacks(execute=True):
        post_sendgrid(client, [event("open", "e1", useragent="Mail")])
        post_sendgrid(client, [event("delivered", "e2", response="250 OK")])
        post_sendgrid(client, [event("open", "e3", useragent="Mail")])  # a second open: a new event, no new entry
        post_sendgrid(client, [event("click", "e4", url="https://refi.example.test/r/x/go/")])
    email.refresh_from_db()
    assert kinds(email) == ["clicked", "delivered", "opened", "queued", "sent"]
    assert email.status == "delivered" and email.opened_at and email.clicked_at


def test_hard_bounce_stops_email_for_the_borrower(client, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_sendgrid(
            client, [event("bounce", "b1", reason="550 5.1.1 The email account does not exist", type="bounce")]
        )
    email = sent.messages.get(step__position=1)
    borrower = email.borrower
    borrower.refresh_from_db()
    assert borrower.email_undeliverable_reason == "Hard bounce: 550 5.1.1 The email account does not exist"
    assert kinds(email) == ["bounced", "queued", "sent"]
    assert sent.messages.get(step__position=4).status == "cancelled"  # the day 10 email
    assert sent.messages.get(step__position=3).status == "scheduled"  # SMS continues
    assert ConsentEvent.objects.get(borrower=borrower).action == "undeliverable"


def test_spam_complaint_opts_out_of_email(client, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_sendgrid(client, [event("spamreport", "s1")])
    borrower = sent.opportunity.borrower
    borrower.refresh_from_db()
    assert borrower.email_opted_out_at is not None
    assert Activity.objects.filter(kind="opted_out", channel="email").count() == 1


def test_stored_event_survives_a_lost_enqueue_and_is_retried(client, sent, frozen):
    # on_commit callbacks are not executed here: the queueing never happened (broker down, worker died).
    post_sendgrid(client, [event("delivered", "d1")])
    stored = WebhookEvent.objects.get()
    assert stored.processed_at is None
    frozen.shift(60)
    assert process_pending_webhook_events() == 1
    assert sent.messages.get(step__position=1).status == "delivered"
    assert process_pending_webhook_events() == 0


# ----- anymail inbound (Postmark's documented inbound JSON) -------------------------------------------------


def postmark_inbound(*, sender: str, to: str, text: str, message_id: str = "ab8a2e4f", headers=None):  # type: ignore[no-untyped-def]
    return {
        "FromName": "Ana O'Neil",
        "MessageStream": "inbound",
        "From": sender,
        "FromFull": {"Email": sender, "Name": "Ana O'Neil", "MailboxHash": ""},
        "To": to,
        "ToFull": [{"Email": to, "Name": "", "MailboxHash": ""}],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": to,
        "Subject": "Re: Ana, save $280.48 a month",
        "MessageID": message_id,
        "ReplyTo": "",
        "MailboxHash": "",
        "Date": "Mon, 23 Nov 2026 09:30:00 -0600",
        "TextBody": text + "\n\nOn Mon, Officer wrote:\n> Hi Ana",
        "HtmlBody": "",
        "StrippedTextReply": text,
        "Tag": "",
        "Headers": headers or [{"Name": "Message-ID", "Value": f"<{message_id}@mail.example.com>"}],
        "Attachments": [],
    }


def post_postmark_inbound(client, payload):  # type: ignore[no-untyped-def]
    return client.post(
        "/anymail/postmark/inbound/", data=json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=AUTH
    )


def test_email_reply_stops_the_sequence_and_tells_the_officer(client, sent, django_capture_on_commit_callbacks):
    borrower = sent.opportunity.borrower
    payload = postmark_inbound(sender=borrower.email, to="officer@lender.example.com", text="Yes, call me after 5.")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_postmark_inbound(client, payload).status_code == 200
        assert post_postmark_inbound(client, payload).status_code == 200  # replayed
    sent.refresh_from_db()
    opportunity = Opportunity.objects.get(pk=sent.opportunity_id)
    assert (sent.status, sent.stop_reason) == ("paused", "replied")
    assert opportunity.stage == "engaged" and opportunity.attention_reason == "Borrower replied"
    reply = Activity.objects.get(kind="replied")
    assert reply.channel == "email" and "Yes, call me after 5." in reply.body
    # paused, not ended: the later steps wait for the loan officer to resume or close the sequence
    assert set(sent.messages.filter(step__position__gt=2).values_list("status", flat=True)) == {"scheduled"}
    notice = mail.outbox[-1]
    assert notice.to == [opportunity.loan_officer.email] and notice.subject.startswith("Borrower replied:")
    assert len(mail.outbox) == 1


def test_plus_tagged_reply_address_finds_the_message(client, sent, settings, django_capture_on_commit_callbacks):
    email = sent.messages.get(step__position=1)
    sender = sent.opportunity.borrower.email.upper()  # addresses compare case-insensitively
    payload = postmark_inbound(sender=sender, to=f"replies+r{email.pk}@in.example.com", text="Hi")
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark_inbound(client, payload)
    assert Activity.objects.get(kind="replied").message_id == email.pk


def assert_not_a_reply(enrollment):  # type: ignore[no-untyped-def]
    enrollment.refresh_from_db()
    opportunity = Opportunity.objects.get(pk=enrollment.opportunity_id)
    assert enrollment.status == "active" and opportunity.stage == "contacted"
    assert not Activity.objects.filter(kind="replied").exists()
    assert not mail.outbox


def test_spoofed_plus_tag_from_another_address_does_not_stop_the_sequence(
    client, sent, django_capture_on_commit_callbacks
):
    """Message ids are sequential: anyone could write to replies+r<id>@ to stop another lender's sequence."""
    email = sent.messages.get(step__position=1)
    payload = postmark_inbound(
        sender="attacker@evil.example", to=f"replies+r{email.pk}@in.example.com", text="Not interested."
    )
    payload["CcFull"] = [{"Email": f"replies+r{email.pk + 1}@in.example.com", "Name": "", "MailboxHash": ""}]
    with django_capture_on_commit_callbacks(execute=True):
        assert post_postmark_inbound(client, payload).status_code == 200
    assert WebhookEvent.objects.get(kind="inbound").processed_at is not None
    assert_not_a_reply(sent)


def test_spoofed_in_reply_to_from_another_address_does_not_stop_the_sequence(
    client, sent, django_capture_on_commit_callbacks
):
    headers = [
        {"Name": "Message-ID", "Value": "<forged@evil.example>"},
        {"Name": "In-Reply-To", "Value": SMTP_ID},  # the provider id of the day 1 email
    ]
    payload = postmark_inbound(
        sender="someone.else@example.org", to="officer@lender.example.com", text="Stop", headers=headers
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark_inbound(client, payload)
    assert_not_a_reply(sent)


def test_in_reply_to_from_the_borrower_counts(client, sent, django_capture_on_commit_callbacks):
    headers = [{"Name": "Message-ID", "Value": "<r1@mail.example.com>"}, {"Name": "In-Reply-To", "Value": SMTP_ID}]
    borrower = sent.opportunity.borrower
    payload = postmark_inbound(sender=borrower.email, to="officer@lender.example.com", text="Ok", headers=headers)
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark_inbound(client, payload)
    assert Activity.objects.get(kind="replied").message_id == sent.messages.get(step__position=1).pk


def test_auto_reply_does_not_stop_the_sequence(client, sent, django_capture_on_commit_callbacks):
    payload = postmark_inbound(
        sender=sent.opportunity.borrower.email,
        to="officer@lender.example.com",
        text="I am out of the office.",
        headers=[{"Name": "Auto-Submitted", "Value": "auto-replied"}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark_inbound(client, payload)
    sent.refresh_from_db()
    assert sent.status == "active" and not Activity.objects.filter(kind="replied").exists()


# ----- Twilio ------------------------------------------------------------------------------------------------

STATUS_URL = "/o/webhooks/twilio/status/"
INBOUND_URL = "/o/webhooks/twilio/inbound/"


def signed_post(client, path, params, *, token="test-twilio-auth-token", base="https://refi.example.test"):  # type: ignore[no-untyped-def]
    signature = RequestValidator(token).compute_signature(f"{base}{path}", params)
    return client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE=signature)


def inbound(phone: str, body: str, sid: str) -> dict:
    """Twilio's documented inbound SMS parameters."""
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "60601",
        "SmsSid": sid,
        "FromState": "IL",
        "SmsStatus": "received",
        "FromCity": "CHICAGO",
        "Body": body,
        "FromCountry": "US",
        "To": "+15005550006",
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": phone,
        "ApiVersion": "2010-04-01",
    }


def status(sid: str, value: str, error_code: str = "") -> dict:
    params = {
        "AccountSid": "AC00000000000000000000000000000000",
        "From": "+15005550006",
        "To": "+13125550000",
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": value,
        "SmsStatus": value,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


def test_bad_twilio_signatures_are_rejected(client, sent):
    phone = sent.opportunity.borrower.mobile_phone
    params = inbound(phone, "STOP", "SM1")
    assert client.post(INBOUND_URL, data=params).status_code == 403
    assert signed_post(client, INBOUND_URL, params, token="wrong-token").status_code == 403
    assert signed_post(client, INBOUND_URL, params, base="http://refi.example.test").status_code == 403
    tampered = RequestValidator("test-twilio-auth-token").compute_signature(
        f"https://refi.example.test{INBOUND_URL}", params
    )
    assert (
        client.post(INBOUND_URL, data={**params, "Body": "hello"}, HTTP_X_TWILIO_SIGNATURE=tampered).status_code == 403
    )
    assert not WebhookEvent.objects.exists()


def test_missing_auth_token_fails_closed(client, sent, settings):
    params = status("SM1", "delivered")
    signature = RequestValidator("test-twilio-auth-token").compute_signature(
        f"https://refi.example.test{STATUS_URL}", params
    )
    settings.TWILIO_AUTH_TOKEN = ""
    assert client.post(STATUS_URL, data=params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403


def test_stop_opts_out_on_arrival_and_no_further_sms_is_sent(client, sent, frozen):
    borrower = sent.opportunity.borrower
    response = signed_post(client, INBOUND_URL, inbound(borrower.mobile_phone, " stop ", "SMstop1"))
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    assert b"unsubscribed" in response.content and b"Reply START to resubscribe" in response.content
    borrower.refresh_from_db()
    assert borrower.sms_opted_out_at is not None
    assert ConsentEvent.objects.get(borrower=borrower).source == "SMS keyword STOP"
    assert sent.messages.get(step__position=3).status == "cancelled"  # day 4 SMS
    assert signed_post(client, INBOUND_URL, inbound(borrower.mobile_phone, "STOP", "SMstop1")).status_code == 200
    assert ConsentEvent.objects.count() == 1  # replay: nothing twice

    frozen.shift(60 * 60 * 24 * 10)
    RateObservationFactory(series=RateSeries.objects.get(code="OBMMIC30YF"), date=dt.date(2026, 12, 2))
    # the daily match refreshed the opportunity's figures on that rate
    type(sent.opportunity).objects.filter(pk=sent.opportunity_id).update(market_rate_date=dt.date(2026, 12, 2))
    before = LocalSms.objects.count()
    dispatch_due_messages()
    assert LocalSms.objects.count() == before  # no SMS after STOP ...
    assert sent.messages.get(step__position=4).status == "sent"  # ... while consented email continues
    sent.refresh_from_db()
    assert sent.status == "completed"


@pytest.mark.parametrize("word", ["STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"])
def test_every_opt_out_keyword_works(client, sent, word):
    borrower = sent.opportunity.borrower
    signed_post(client, INBOUND_URL, inbound(borrower.mobile_phone, word.lower(), f"SM{word}"))
    borrower.refresh_from_db()
    assert borrower.sms_opted_out_at is not None
    assert not Activity.objects.filter(kind="replied").exists()


def test_start_opts_back_in_and_help_answers(client, sent):
    borrower = sent.opportunity.borrower
    signed_post(client, INBOUND_URL, inbound(borrower.mobile_phone, "STOP", "SM1"))
    response = signed_post(client, INBOUND_URL, inbound(borrower.mobile_phone, "UNSTOP", "SM2"))
    assert b"resubscribed" in response.content
    borrower.refresh_from_db()
    assert borrower.sms_opted_out_at is None
    assert list(ConsentEvent.objects.order_by("created_at", "pk").values_list("action", flat=True)) == [
        "revoked",
        "restored",
    ]
    assert Activity.objects.filter(kind="opted_in", channel="sms").count() == 1
    help_reply = signed_post(client, INBOUND_URL, inbound(borrower.mobile_phone, "HELP", "SM3"))
    officer = sent.opportunity.loan_officer
    assert f"Call {officer.display_name} at {officer.phone}".encode() in help_reply.content
    assert b"Reply STOP to opt out" in help_reply.content
    sent.refresh_from_db()
    assert sent.status == "active"


def test_sms_reply_is_a_stop_condition(client, sent):
    borrower = sent.opportunity.borrower
    response = signed_post(client, INBOUND_URL, inbound(borrower.mobile_phone, "Yes please call me", "SMr1"))
    assert response.status_code == 200 and b"<Message>" not in response.content
    sent.refresh_from_db()
    assert (sent.status, sent.stop_reason) == ("paused", "replied")
    assert Opportunity.objects.get(pk=sent.opportunity_id).stage == "engaged"
    reply = Activity.objects.get(kind="replied")
    assert (reply.channel, reply.body, Message.objects.get(pk=reply.message_id).channel) == (
        "sms",
        "Yes please call me",
        "sms",
    )


def test_sms_from_another_number_is_not_a_reply(client, sent):
    response = signed_post(client, INBOUND_URL, inbound("+13125559999", "Not interested", "SMx1"))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.status == "active" and not Activity.objects.filter(kind="replied").exists()


def test_yes_from_a_subscribed_borrower_is_a_reply(client, sent):
    signed_post(client, INBOUND_URL, inbound(sent.opportunity.borrower.mobile_phone, "Yes", "SMy1"))
    assert Activity.objects.filter(kind="replied").count() == 1


def test_status_callbacks_are_deduplicated_and_order_independent(client, sent):
    sms = sent.messages.get(step__position=2)
    sid = sms.provider_message_id
    for value in ["delivered", "sent", "delivered"]:
        assert signed_post(client, STATUS_URL, status(sid, value)).status_code == 200
    assert WebhookEvent.objects.filter(provider="twilio").count() == 2
    sms.refresh_from_db()
    assert sms.status == "delivered"
    assert kinds(sms) == ["delivered", "queued", "sent"]


def test_undelivered_to_a_landline_marks_the_number(client, sent):
    sms = sent.messages.get(step__position=2)
    signed_post(client, STATUS_URL, status(sms.provider_message_id, "undelivered", "30006"))
    sms.refresh_from_db()
    borrower = sms.borrower
    borrower.refresh_from_db()
    assert (sms.status, sms.error_code) == ("failed", "30006")
    assert borrower.sms_undeliverable_reason == "Landline or unreachable carrier (Twilio 30006)"
    assert kinds(sms) == ["failed", "queued", "sent"]
    assert Enrollment.objects.get(pk=sent.pk).messages.get(step__position=3).status == "cancelled"


def test_delivered_then_undelivered_stays_delivered(client, sent):
    sms = sent.messages.get(step__position=2)
    signed_post(client, STATUS_URL, status(sms.provider_message_id, "delivered"))
    signed_post(client, STATUS_URL, status(sms.provider_message_id, "undelivered", "30006"))
    signed_post(client, STATUS_URL, status(sms.provider_message_id, "failed", "30003"))
    sms.refresh_from_db()
    assert (sms.status, sms.error_code) == ("delivered", "")
    assert sms.delivered_at is not None
    assert kinds(sms) == ["delivered", "queued", "sent"]
    sms.borrower.refresh_from_db()
    assert sms.borrower.sms_undeliverable_reason == ""  # the number did receive it
    assert Enrollment.objects.get(pk=sent.pk).messages.get(step__position=3).status == "scheduled"


def test_undelivered_then_a_late_delivered_report_ends_delivered_never_failed_with_delivered_at(client, sent):
    sms = sent.messages.get(step__position=2)
    signed_post(client, STATUS_URL, status(sms.provider_message_id, "undelivered", "30003"))
    sms.refresh_from_db()
    assert (sms.status, sms.error_code, sms.delivered_at) == ("failed", "30003", None)
    signed_post(client, STATUS_URL, status(sms.provider_message_id, "delivered"))
    sms.refresh_from_db()
    assert (sms.status, sms.error_code, sms.error_message) == ("delivered", "", "")
    assert sms.delivered_at is not None
    assert kinds(sms) == ["delivered", "failed", "queued", "sent"]


def test_no_failed_message_ever_has_delivered_at(client, sent):
    sms = sent.messages.get(step__position=2)
    for value, code in [("sent", ""), ("delivered", ""), ("undelivered", "30006"), ("sent", ""), ("failed", "")]:
        signed_post(client, STATUS_URL, status(sms.provider_message_id, value, code))
    assert not Message.objects.filter(status="failed", delivered_at__isnull=False).exists()
