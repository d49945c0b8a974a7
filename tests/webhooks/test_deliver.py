"""Delivery: signed per Standard Webhooks, retried with backoff, disabled after 3 days, replayable."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import responses
from django.core import mail
from standardwebhooks.webhooks import Webhook

from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import opportunity_change_stage
from tests.factories import ActivityFactory
from tests.webhooks.conftest import NOW, SECRET, URL
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_deliveries_replay, webhooks_collect, webhooks_deliver
from webhooks.services.deliver import retry_delay

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(officer, opportunity, endpoint) -> WebhookDelivery:
    opportunity_change_stage(opportunity=opportunity, stage=Opportunity.Stage.CONTACTED, actor=officer.user)
    assert webhooks_collect() == 1
    return WebhookDelivery.objects.get()


@responses.activate
def test_delivered_request_verifies_with_standardwebhooks(queued, opportunity, officer):
    responses.post(URL, status=204)
    stats = webhooks_deliver()
    assert (stats.delivered, stats.failed) == (1, 0)

    request = responses.calls[0].request
    headers = dict(request.headers)
    payload = Webhook(SECRET).verify(request.body, headers)  # the spec's own library, at the frozen now
    assert headers["webhook-id"] == queued.event_id
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert headers["Content-Type"] == "application/json"
    assert payload["type"] == "opportunity.stage_changed"
    assert payload["timestamp"] == "2026-11-22T15:00:00Z"
    data = payload["data"]
    assert (data["from_stage"], data["to_stage"]) == ("new", "contacted")
    assert data["opportunity"]["id"] == opportunity.pk and data["opportunity"]["loan_number"] == "LN-1001"
    assert data["opportunity"]["borrower"]["name"] == opportunity.borrower.full_name
    assert data["opportunity"]["monthly_savings"] == "280.48"  # amounts as strings
    assert "phone" not in json.dumps(payload) and SECRET not in request.body.decode()

    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.response_status) == ("delivered", 1, 204)
    assert queued.payload == payload
    responses.calls.reset()
    assert webhooks_deliver().delivered == 0  # nothing left to send


def test_a_tampered_body_does_not_verify(queued):
    from webhooks.services.deliver import signed_request

    queued.payload = {"type": "x"}
    body, headers = signed_request(queued, secret=SECRET, now=NOW)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(SECRET).verify(body.replace(b"x", b"y"), headers)


def test_retry_schedule():
    assert [retry_delay(n) for n in range(1, 9)] == [
        dt.timedelta(minutes=1),
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=30),
        dt.timedelta(hours=2),
        dt.timedelta(hours=6),
        dt.timedelta(hours=12),
        dt.timedelta(hours=12),
        dt.timedelta(hours=12),
    ]


@responses.activate
def test_500_and_timeout_are_retried_with_backoff(queued, frozen):
    responses.post(URL, status=500, body="upstream down")
    responses.post(URL, body=requests.exceptions.ConnectTimeout("timed out"))
    responses.post(URL, status=200, body="ok")

    assert webhooks_deliver().failed == 1
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.response_status) == ("failed", 1, 500)
    assert queued.response_body == "upstream down"
    assert queued.next_attempt_at == NOW + dt.timedelta(minutes=1)
    assert webhooks_deliver().failed == 0  # not due yet

    frozen.shift(60)
    assert webhooks_deliver().failed == 1
    queued.refresh_from_db()
    assert queued.attempts == 2 and "ConnectTimeout" in queued.error and queued.response_status is None
    assert queued.next_attempt_at == NOW + dt.timedelta(minutes=6)

    frozen.shift(300)
    assert webhooks_deliver().delivered == 1
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == ("delivered", 3)
    assert WebhookEndpoint.objects.get().failing_since is None
    ids = {call.request.headers["webhook-id"] for call in responses.calls}
    assert ids == {queued.event_id}  # every retry carries the same id


@responses.activate
def test_failing_for_three_days_disables_the_endpoint_and_emails_the_admins_once(queued, admin_profile, frozen):
    responses.post(URL, status=503)
    attempts = 0
    while WebhookEndpoint.objects.get().is_active:
        frozen.shift(retry_delay(attempts) if attempts else dt.timedelta(0))
        attempts += webhooks_deliver().failed
        assert attempts < 20
    endpoint = WebhookEndpoint.objects.get()
    # 1 m, 5 m, 30 m, 2 h, 6 h, then 12 h: the attempt after 72 h of failure disables it.
    assert attempts == 12 and endpoint.disabled_at == endpoint.failing_since + dt.timedelta(hours=80, minutes=36)
    assert WebhookDelivery.objects.get().status == "abandoned"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["admin@lender.example.com"] and URL in mail.outbox[0].subject

    ActivityFactory(opportunity=queued.endpoint.organization.opportunities.get(), kind=Activity.Kind.MATCHED)
    frozen.shift(dt.timedelta(days=1))
    assert webhooks_collect() == 0 and webhooks_deliver().failed == 0
    assert len(mail.outbox) == 1


@responses.activate
def test_a_success_resets_the_failure_clock(queued, opportunity, frozen):
    responses.post(URL, status=500)
    webhooks_deliver()
    assert WebhookEndpoint.objects.get().failing_since == NOW
    responses.replace(responses.POST, URL, status=200)
    frozen.shift(60)
    webhooks_deliver()
    assert WebhookEndpoint.objects.get().failing_since is None


@responses.activate
def test_replay_sends_the_same_event_again(queued, frozen):
    responses.post(URL, status=200)
    webhooks_deliver()
    frozen.shift(3600)
    assert webhook_deliveries_replay(deliveries=WebhookDelivery.objects.all()) == 1
    assert webhook_deliveries_replay(deliveries=WebhookDelivery.objects.all()) == 0  # already queued
    assert webhooks_deliver().delivered == 1
    first, second = (call.request for call in responses.calls)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    Webhook(SECRET).verify(second.body, dict(second.headers))


def test_two_workers_never_send_the_same_row(queued, monkeypatch):
    """The claim is a conditional UPDATE: a row claimed by one worker is not claimable by another."""
    from webhooks.services import deliver

    sent = []

    class Session:
        def post(self, url, **kwargs):
            # While this worker is sending, a second worker runs: it must find nothing to claim.
            sent.append(kwargs["headers"]["webhook-id"])
            if len(sent) == 1:
                assert deliver.webhooks_deliver(session=self).delivered == 0

            class Response:
                status_code, text = 200, "ok"

            return Response()

    assert deliver.webhooks_deliver(session=Session()).delivered == 1
    assert sent == [queued.event_id]


@responses.activate
def test_a_row_left_claimed_by_a_killed_worker_is_sent_after_the_timeout(queued, frozen):
    responses.post(URL, status=200)
    WebhookDelivery.objects.update(claimed_at=NOW, claim_token="dead-worker", attempts=1)
    assert webhooks_deliver().delivered == 0
    frozen.shift(dt.timedelta(minutes=5, seconds=1))
    assert webhooks_deliver().delivered == 1
    assert WebhookDelivery.objects.get().attempts == 2


@responses.activate
def test_an_address_that_turned_private_is_not_called(queued, monkeypatch):
    from webhooks import urlguard

    monkeypatch.setattr(urlguard, "resolve_host", lambda host, port: ["169.254.169.254"])
    assert webhooks_deliver().failed == 1
    assert len(responses.calls) == 0
    assert "private" in WebhookDelivery.objects.get().error
