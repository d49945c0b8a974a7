"""The demo's stand-in CRM receiver: it verifies the Standard Webhooks signature with the demo endpoint's secret."""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json

import pytest
from django.core.checks import run_checks
from django.test import Client
from django.urls import clear_url_caches
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

import refiapp.urls
from refiapp.demo_automations import DEMO_CRM_PATH, DEMO_CRM_URL
from tests.factories import OrganizationFactory
from webhooks.services import webhook_endpoint_save

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(b"demo-crm-test-secret-of-32-bytes").decode()
BODY = json.dumps({"type": "opportunity.stage_changed", "data": {"opportunity": {"id": 7}}})


def _reload_urls() -> None:
    importlib.reload(refiapp.urls)
    clear_url_caches()


@pytest.fixture
def receiver_on(settings):
    settings.DEMO_CRM_RECEIVER = True
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    _reload_urls()
    yield
    settings.DEMO_CRM_RECEIVER = False
    _reload_urls()


@pytest.fixture
def endpoint(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    organization = OrganizationFactory(slug="demo")
    return webhook_endpoint_save(organization=organization, url=DEMO_CRM_URL, secret=SECRET)[0]


def _post(body: str, *, secret: str = SECRET, signed_body: str | None = None):
    headers = {"webhook-id": "evt_demo_1", "webhook-timestamp": str(int(timezone.now().timestamp()))}
    headers["webhook-signature"] = Webhook(secret).sign(
        msg_id="evt_demo_1", timestamp=timezone.now(), data=signed_body if signed_body is not None else body
    )
    return Client().post(
        DEMO_CRM_PATH, body, content_type="application/json", headers={k.title(): v for k, v in headers.items()}
    )


def test_a_correctly_signed_request_gets_204(receiver_on, endpoint):
    assert _post(BODY).status_code == 204


def test_a_tampered_body_or_another_secret_gets_400(receiver_on, endpoint):
    assert _post(BODY.replace("7", "8"), signed_body=BODY).status_code == 400
    other = "whsec_" + base64.b64encode(b"another-secret-of-thirty-two-byt").decode()
    assert _post(BODY, secret=other).status_code == 400
    response = Client().post(DEMO_CRM_PATH, BODY, content_type="application/json")  # no signature headers
    assert response.status_code == 400


def test_only_post_and_csrf_exempt(receiver_on, endpoint):
    assert Client().get(DEMO_CRM_PATH).status_code == 405
    unsigned = Client(enforce_csrf_checks=True).post(DEMO_CRM_PATH, BODY, content_type="application/json")
    assert unsigned.status_code == 400  # the signature decides, not a CSRF token


def test_absent_when_the_setting_is_off(endpoint):
    assert _post(BODY).status_code == 404


def test_absent_when_the_setting_is_turned_off_after_startup(receiver_on, endpoint, settings):
    settings.DEMO_CRM_RECEIVER = False
    assert _post(BODY).status_code == 404


def test_check_deploy_warns_when_it_is_on_outside_debug(settings):
    settings.DEMO_CRM_RECEIVER, settings.DEBUG = True, False
    assert "refiapp.W001" in [message.id for message in run_checks(include_deployment_checks=True)]
    settings.DEBUG = True
    assert "refiapp.W001" not in [message.id for message in run_checks(include_deployment_checks=True)]


def test_an_old_timestamp_does_not_verify(receiver_on, endpoint):
    headers = {
        "Webhook-Id": "evt_old",
        "Webhook-Timestamp": str(int((timezone.now() - dt.timedelta(hours=1)).timestamp())),
        "Webhook-Signature": Webhook(SECRET).sign(
            msg_id="evt_old", timestamp=timezone.now() - dt.timedelta(hours=1), data=BODY
        ),
    }
    response = Client().post(DEMO_CRM_PATH, BODY, content_type="application/json", headers=headers)
    assert response.status_code == 400
