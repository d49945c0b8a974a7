"""Endpoints: the SSRF guard, the secret (format, encryption), the events filter and the command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.webhooks.conftest import SECRET, URL
from webhooks import secrets, urlguard
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_save

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "private"),
        ("https://10.1.2.3/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://[::1]/hook", "private"),
        ("https://192.168.0.10:8443/hook", "private"),
        ("http://crm.example.com/hook", "https"),
        ("ftp://crm.example.com/hook", "https"),
        ("https://user:pw@crm.example.com/hook", "password"),
    ],
)
def test_unsafe_urls_are_refused(officer, url, why):
    with pytest.raises(ValidationError) as caught:
        webhook_endpoint_save(organization=officer.organization, url=url, secret=SECRET)
    assert why in " ".join(caught.value.message_dict["url"])
    assert not WebhookEndpoint.objects.exists()


def test_a_name_resolving_to_a_private_address_is_refused(officer, monkeypatch):
    monkeypatch.setattr(urlguard, "resolve_host", lambda host, port: ["93.184.215.14", "10.0.0.5"])
    with pytest.raises(ValidationError, match="10.0.0.5"):
        webhook_endpoint_save(organization=officer.organization, url="https://sneaky.example.com/", secret=SECRET)


def test_the_setting_allows_private_and_http(officer, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    endpoint, outcome = webhook_endpoint_save(
        organization=officer.organization, url="http://127.0.0.1:9000/hook", secret=SECRET
    )
    assert outcome == "created" and endpoint.is_active


def test_the_secret_is_encrypted_at_rest(officer):
    endpoint, _ = webhook_endpoint_save(organization=officer.organization, url=URL, secret=SECRET)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM webhooks_webhookendpoint WHERE id = %s", [endpoint.pk])
        raw = cursor.fetchone()[0]
    assert SECRET not in raw and SECRET[6:] not in raw
    assert secrets.decrypt(raw) == SECRET


@pytest.mark.parametrize(
    ("secret", "why"),
    [("not-a-secret", "whsec_"), ("whsec_!!!", "base64"), ("whsec_c2hvcnQ=", "24 to 64 bytes")],
)
def test_bad_secrets_are_refused(officer, secret, why):
    with pytest.raises(ValidationError) as caught:
        webhook_endpoint_save(organization=officer.organization, url=URL, secret=secret)
    assert why in " ".join(caught.value.message_dict["secret"])


def test_unknown_event_types_are_refused(officer):
    with pytest.raises(ValidationError, match="message.exploded"):
        webhook_endpoint_save(organization=officer.organization, url=URL, secret=SECRET, events=["message.exploded"])


def run(*args: str) -> str:
    out = StringIO()
    call_command("webhook_endpoint", *args, stdout=out)
    return out.getvalue()


def test_command_creates_then_changes_nothing_then_updates(officer):
    slug = officer.organization.slug
    first = run("--org", slug, "--url", URL, "--secret", SECRET)
    assert first.startswith("Created: webhook endpoint") and "all events" in first and SECRET not in first
    assert run("--org", slug, "--url", URL, "--secret", SECRET).startswith("Unchanged:")
    again = run("--org", slug, "--url", URL, "--events", "message.sent,refinance.funded")
    assert again.startswith("Updated:") and "message.sent, refinance.funded" in again
    assert run("--org", slug, "--url", URL, "--events", "refinance.funded,message.sent").startswith("Unchanged:")
    assert WebhookEndpoint.objects.get().events == ["message.sent", "refinance.funded"]
    assert run("--org", slug, "--url", URL, "--events", "all").startswith("Updated:")
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "https://10.0.0.1/x", "--secret", SECRET], "url: The host 10.0.0.1 resolves to a private"),
        (["--url", "http://crm.example.com/x", "--secret", SECRET], "url: The URL must use https"),
        (["--url", "not a url", "--secret", SECRET], "url: Enter a valid URL."),
        (["--url", URL, "--secret", "s3cr3t"], "secret: The secret must start with whsec_"),
        (["--url", URL], "secret: An endpoint needs its signing secret"),
        (["--url", URL, "--secret", SECRET, "--events", "message.lost"], "--events: unknown event type(s)"),
    ],
)
def test_command_errors_are_clear(officer, args, message):
    with pytest.raises(CommandError) as caught:
        run("--org", officer.organization.slug, *args)
    assert message in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and SECRET not in str(caught.value)
    assert not WebhookEndpoint.objects.exists()


def test_command_exit_code_and_no_traceback(officer, capsys):
    with pytest.raises(SystemExit) as caught:
        call_command_from_argv(["webhook_endpoint", "--org", officer.organization.slug, "--url", URL, "--secret", "x"])
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert "CommandError: The endpoint was not saved: secret: The secret must start with whsec_" in err
    assert "Traceback" not in err


def test_command_unknown_organization(db):
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        run("--org", "nope", "--url", URL, "--secret", SECRET)


def call_command_from_argv(argv: list[str]) -> None:
    from django.core.management import ManagementUtility

    ManagementUtility(["manage.py", *argv]).execute()
