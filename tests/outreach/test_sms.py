"""TwilioSmsBackend against Twilio's REST API, replaced at the HTTP boundary with its documented JSON shapes."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import pytest
import requests
import responses

from loans.models import ConsentEvent
from outreach.models import Message
from outreach.services.dispatch import Dispatcher, dispatch_due_messages, messages_claim
from outreach.services.enrollments import enrollment_create
from outreach.services.recording import STUCK_AFTER
from outreach.sms import (
    SmsPermanentError,
    SmsTransientError,
    SmsUnknownOutcome,
    TwilioSmsBackend,
    get_sms_gateway,
)
from tests.outreach.conftest import MONDAY_9AM_CHICAGO, make_sequence

pytestmark = pytest.mark.django_db

ACCOUNT = "AC00000000000000000000000000000000"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


def message_resource(*, sid: str, to: str, body: str, status: str = "queued", created: str = "") -> dict:
    """The Message resource as documented (twilio.com/docs/messaging/api/message-resource)."""
    created = created or "Mon, 23 Nov 2026 15:00:00 +0000"
    return {
        "account_sid": ACCOUNT,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": created,
        "date_sent": None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": "+15005550006",
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "2",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media.json"},
        "to": to,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json",
    }


def error_body(code: int, message: str, status: int = 400) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def page(messages: list[dict]) -> dict:
    return {
        "messages": messages,
        "end": max(len(messages) - 1, 0),
        "first_page_uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json?PageSize=20&Page=0",
        "next_page_uri": None,
        "page": 0,
        "page_size": 20,
        "previous_page_uri": None,
        "start": 0,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json?PageSize=20&Page=0",
    }


@pytest.fixture
def twilio(settings):  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "twilio"
    with responses.RequestsMock() as mocked:
        yield mocked


def test_gateway_is_chosen_by_setting(settings, twilio):
    assert isinstance(get_sms_gateway(), TwilioSmsBackend)


def test_send_posts_the_documented_parameters(twilio):
    twilio.post(MESSAGES_URL, status=201, json=message_resource(sid="SM" + "a" * 32, to="+13125550123", body="Hi"))
    result = TwilioSmsBackend().send(
        to="+13125550123",
        body="Hi",
        idempotency_key="k",
        status_callback="https://refi.example.test/o/webhooks/twilio/status/",
    )
    assert (result.sid, result.status) == ("SM" + "a" * 32, "queued")
    sent = parse_qs(twilio.calls[0].request.body)
    assert sent == {
        "To": ["+13125550123"],
        "Body": ["Hi"],
        "From": ["+15005550006"],
        "StatusCallback": ["https://refi.example.test/o/webhooks/twilio/status/"],
    }


@pytest.mark.parametrize(
    ("status", "code", "error", "attrs"),
    [
        (400, 21211, SmsPermanentError, {"borrower_reason": "Invalid phone number (Twilio 21211)"}),
        (400, 21614, SmsPermanentError, {"borrower_reason": "Not a mobile number (Twilio 21614)"}),
        (400, 21610, SmsPermanentError, {"opted_out": True}),
        (400, 21606, SmsPermanentError, {"borrower_reason": ""}),
        (429, 20429, SmsTransientError, {}),
        (503, 20503, SmsTransientError, {}),
    ],
)
def test_errors_are_classified(twilio, status, code, error, attrs):
    twilio.post(MESSAGES_URL, status=status, json=error_body(code, "error", status))
    with pytest.raises(error) as raised:
        TwilioSmsBackend().send(to="+13125550123", body="Hi", idempotency_key="k")
    assert raised.value.code == str(code)
    for name, value in attrs.items():
        assert getattr(raised.value, name) == value


def test_timeout_is_an_unknown_outcome(twilio):
    twilio.post(MESSAGES_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(SmsUnknownOutcome):
        TwilioSmsBackend().send(to="+13125550123", body="Hi", idempotency_key="k")


def test_dispatch_through_twilio_and_landline_error(opportunity, twilio):
    sequence = make_sequence(opportunity.organization, [(1, "sms"), (4, "sms")])
    enrollment = enrollment_create(opportunity=opportunity, sequence=sequence)
    twilio.post(MESSAGES_URL, status=400, json=error_body(21614, "'To' number is not a valid mobile number"))
    dispatch_due_messages()
    opportunity.borrower.refresh_from_db()
    assert opportunity.borrower.sms_undeliverable_reason == "Not a mobile number (Twilio 21614)"
    assert list(enrollment.messages.order_by("step__position").values_list("status", flat=True)) == [
        "failed",
        "cancelled",
    ]
    assert ConsentEvent.objects.get().action == "undeliverable"


def test_crash_after_twilio_accepted_is_reconciled_by_listing_messages(opportunity, twilio, frozen):
    """Twilio created the message but the worker died before recording it: found by listing, never re-sent."""
    sequence = make_sequence(opportunity.organization, [(1, "sms")])
    enrollment = enrollment_create(opportunity=opportunity, sequence=sequence)
    sid = "SM" + "b" * 32
    created: list[dict] = []

    def accept_then_crash(request):  # type: ignore[no-untyped-def]
        params = {k: v[0] for k, v in parse_qs(request.body).items()}
        created.append(message_resource(sid=sid, to=params["To"], body=params["Body"]))
        raise KeyboardInterrupt("worker killed after Twilio accepted the message")

    twilio.add_callback(responses.POST, MESSAGES_URL, callback=accept_then_crash)
    with pytest.raises(KeyboardInterrupt):
        Dispatcher().run()
    message = enrollment.messages.get()
    assert message.status == "sending" and message.body == created[0]["body"]

    twilio.get(MESSAGES_URL, json=page(created))
    frozen.move_to(MONDAY_9AM_CHICAGO + STUCK_AFTER + dt.timedelta(seconds=1), tick=False)
    stats = dispatch_due_messages()
    message.refresh_from_db()
    assert (stats.reconciled_sent, message.status, message.provider_message_id) == (1, "sent", sid)
    posts = [c for c in twilio.calls if c.request.method == "POST"]
    assert len(posts) == 1  # sent exactly once
    listed = [c for c in twilio.calls if c.request.method == "GET"][0].request.url
    assert "To=%2B" in listed


def test_crash_before_twilio_call_is_requeued_after_twilio_confirms_nothing(opportunity, twilio, frozen):
    sequence = make_sequence(opportunity.organization, [(1, "sms")])
    enrollment = enrollment_create(opportunity=opportunity, sequence=sequence)
    # Claimed and handed over (the hand-over write committed), then the worker died before the HTTP call.
    token, _ = messages_claim()
    Message.objects.filter(claim_token=token).update(
        body="Hi Ana", to_address=opportunity.borrower.mobile_phone, handed_at=MONDAY_9AM_CHICAGO
    )
    other = message_resource(sid="SM" + "c" * 32, to=opportunity.borrower.mobile_phone, body="Something else")
    twilio.get(MESSAGES_URL, json=page([other]))
    twilio.post(
        MESSAGES_URL,
        status=201,
        json=message_resource(sid="SM" + "d" * 32, to=opportunity.borrower.mobile_phone, body="x"),
    )
    frozen.move_to(MONDAY_9AM_CHICAGO + STUCK_AFTER + dt.timedelta(seconds=1), tick=False)
    stats = dispatch_due_messages()
    message = enrollment.messages.get()
    assert (stats.requeued, stats.sent, message.status, message.provider_message_id) == (1, 1, "sent", "SM" + "d" * 32)
    assert len([c for c in twilio.calls if c.request.method == "POST"]) == 1
