"""Admin: org admins add endpoints through the service (secret write-only), read deliveries and replay them."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.conftest import client_for
from tests.webhooks.conftest import SECRET, URL
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_profile):
    admin_profile.user.is_staff = True
    admin_profile.user.save()
    admin_profile.user.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    return client_for(admin_profile)


def test_org_admin_adds_an_endpoint_and_the_secret_is_never_shown(admin_client):
    response = admin_client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {"url": URL, "description": "CRM", "is_active": "on", "events": ["message.sent"], "secret": SECRET},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["message.sent"] and endpoint.has_secret
    page = admin_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert "Set (encrypted; never shown)" in page
    assert SECRET not in page and SECRET[6:] not in page and endpoint.secret_encrypted not in page


def test_the_admin_form_refuses_a_private_url_and_a_bad_secret(admin_client):
    response = admin_client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {"url": "https://169.254.169.254/latest", "is_active": "on", "secret": "nope"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "private, loopback or link-local" in body and "must start with whsec_" in body
    assert not WebhookEndpoint.objects.exists()


def test_replay_action_requeues_a_delivered_row(admin_client, endpoint):
    delivery = WebhookDelivery.objects.create(
        organization=endpoint.organization, endpoint=endpoint, event_id="msg_a1", event_type="message.sent",
        activity_id=1, occurred_at="2026-11-22T15:00:00Z", status="delivered", attempts=1, response_status=200,
        response_body="ok",
    )  # fmt: skip
    page = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200 and "msg_a1" in page.content.decode()
    response = admin_client.post(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"action": "replay", ACTION_CHECKBOX_NAME: [delivery.pk], "index": "0"},
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
