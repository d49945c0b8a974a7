from __future__ import annotations

import base64
import datetime as dt

import pytest
import time_machine

from tests.factories import OpportunityFactory, OrgAdminFactory
from webhooks import urlguard
from webhooks.services import webhook_endpoint_save

NOW = dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC)
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
URL = "https://crm.example.com/hooks/refiapp"
PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture(autouse=True)
def frozen(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # DNS: every name is a public address unless a test says otherwise (no lookups leave the machine).
    monkeypatch.setattr(urlguard, "resolve_host", lambda host, port: [PUBLIC_ADDRESS])
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def opportunity(db, officer):
    return OpportunityFactory(loan__loan_officer=officer, loan__loan_number="LN-1001")


@pytest.fixture
def admin_profile(db, officer):
    return OrgAdminFactory(organization=officer.organization, email="admin@lender.example.com")


@pytest.fixture
def endpoint(officer):
    endpoint, _ = webhook_endpoint_save(organization=officer.organization, url=URL, secret=SECRET)
    return endpoint
