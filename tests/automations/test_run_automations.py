"""``manage.py run_automations``: what the schedules run, for one organization, now; a second run adds nothing."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command

from outreach.models import Message
from tests.automations.conftest import application
from webhooks import urlguard
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_endpoint_save

pytestmark = pytest.mark.django_db

HOOK_URL = "https://crm.example.com/hooks"


def run(officer, *extra: str) -> str:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command("run_automations", "--org", officer.organization.slug, *extra, stdout=out)
    return out.getvalue()


@responses.activate
def test_runs_every_automation_once_and_a_rerun_adds_nothing(officer, frozen, monkeypatch):
    monkeypatch.setattr(urlguard, "resolve_host", lambda host, port: ["93.184.216.34"])  # a public address
    responses.post(HOOK_URL, status=204)
    webhook_endpoint_save(organization=officer.organization, url=HOOK_URL, secret="whsec_" + "QUJD" * 8)
    application(officer, lock_date=dt.date(2026, 11, 1), lock_expiration=dt.date(2026, 12, 7))

    first = run(officer)
    assert "Rate-lock alerts: 1 lock alert(s) queued" in first
    assert "Status updates: 0 status update(s) queued" in first
    assert "18-month review: 0 loan(s) reviewed on Nov 30, 2026" in first
    assert "Campaigns: 0 campaign email(s) queued" in first
    assert Message.objects.filter(kind="lock_alert").count() == 1

    second = run(officer)
    assert "Rate-lock alerts: 0 lock alert(s) queued" in second
    assert "Webhooks: 0 webhook delivery(ies) queued" in second
    assert Message.objects.filter(kind="lock_alert").count() == 1


def test_only_runs_one_part(officer, frozen):
    application(officer, lock_expiration=dt.date(2026, 12, 7))
    out = run(officer, "--only", "status-updates")
    assert out.strip() == "Status updates: 0 status update(s) queued"
    assert not Message.objects.exists() and not WebhookDelivery.objects.exists()


def test_an_unknown_organization_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        call_command("run_automations", "--org", "nope", stdout=StringIO())
