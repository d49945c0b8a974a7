"""Outbox messages about no opportunity (an LOS application's lock alert or status update): who may see them,
what the database allows, and every path after the send (failure, provider events, replies)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from automations.models import StatusTemplate
from automations.services import lock_alerts_run, status_updates_run
from outreach.models import Message
from outreach.services.dispatch import dispatch_due_messages
from outreach.services.webhooks import webhook_event_process, webhook_event_store
from outreach.webhooks import keyword_reply
from pipeline.models import Activity
from tests.automations.conftest import application, officer_mail
from tests.conftest import client_for
from tests.factories import BranchManagerFactory, LoanOfficerFactory

pytestmark = pytest.mark.django_db
EXPIRES = dt.date(2026, 12, 7)


def queued_alert(officer):  # type: ignore[no-untyped-def]
    app = application(officer, lock_expiration=EXPIRES)
    assert lock_alerts_run(organization=officer.organization) == 1
    mail.outbox.clear()
    return app, Message.objects.get()


def test_the_database_requires_a_sender_or_an_opportunity(officer):
    borrower = application(officer).borrower
    common = {
        "organization": officer.organization,
        "borrower": borrower,
        "channel": "email",
        "due_at": dt.datetime.now(dt.UTC),
    }
    for kind in ("lock_alert", "status_update", "campaign"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Message.objects.create(kind=kind, send_key=f"k:{kind}", **common)
    Message.objects.create(kind="lock_alert", send_key="k:ok", loan_officer=officer, **common)
    with pytest.raises(IntegrityError), transaction.atomic():  # a campaign always quotes an opportunity
        Message.objects.create(kind="campaign", send_key="k:c", loan_officer=officer, **common)


def test_loan_officers_and_managers_see_opportunity_less_messages_by_their_officer(officer, frozen):
    _, message = queued_alert(officer)
    colleague = LoanOfficerFactory(branch=officer.branch, organization=officer.organization)
    own_manager = BranchManagerFactory(branch=officer.branch, organization=officer.organization)
    other_branch_manager = BranchManagerFactory(organization=officer.organization)
    assert list(Message.objects.visible_to(officer.user)) == [message]
    assert list(Message.objects.visible_to(colleague.user)) == []
    assert list(Message.objects.visible_to(own_manager.user)) == [message]
    assert list(Message.objects.visible_to(other_branch_manager.user)) == []

    # Admin: the other branch's manager neither lists it nor opens it.
    view = Permission.objects.get(codename="view_message", content_type__app_label="outreach")
    for manager in (own_manager, other_branch_manager):
        manager.user.user_permissions.add(view)
    changelist = reverse("admin:outreach_message_changelist")
    change = reverse("admin:outreach_message_change", args=[message.pk])
    assert message.pk in {m.pk for m in client_for(own_manager).get(changelist).context["cl"].result_list}
    assert client_for(own_manager).get(change).status_code == 200
    other = client_for(other_branch_manager)
    assert message.pk not in {m.pk for m in other.get(changelist).context["cl"].result_list}
    assert other.get(change).status_code == 302  # "doesn't exist", as for a missing id


def test_no_active_officer_fails_with_a_timeline_entry_without_opportunity(officer, frozen):
    _, message = queued_alert(officer)
    officer.is_active = False
    officer.save()
    stats = dispatch_due_messages()
    assert stats.failed == 1
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "no_officer")
    failed = Activity.objects.get(kind="failed")
    assert (failed.opportunity_id, failed.message_id, failed.organization_id) == (
        None, message.pk, officer.organization_id,
    )  # fmt: skip


def test_provider_events_and_an_email_reply_are_recorded_and_the_officer_told(
    officer, frozen, django_capture_on_commit_callbacks
):
    app, message = queued_alert(officer)
    dispatch_due_messages()
    message.refresh_from_db()
    for kind in ("delivered", "opened"):
        event, _ = webhook_event_store(
            provider="anymail", kind=kind, event_id=f"e-{kind}",
            payload={"event_type": kind, "metadata": {"outreach_message": str(message.pk)}, "esp": "test"},
        )  # fmt: skip
        assert webhook_event_process(event_id=event.pk)
    message.refresh_from_db()
    assert message.status == "delivered" and message.opened_at is not None
    kinds = set(Activity.objects.filter(message_id=message.pk, opportunity=None).values_list("kind", flat=True))
    assert kinds == {"queued", "sent", "delivered", "opened"}

    mail.outbox.clear()
    event, _ = webhook_event_store(
        provider="anymail", kind="inbound", event_id="in-1",
        payload={"from": app.borrower.email, "to": ["lo@lender.example.com"], "subject": "Re: lock",
                 "text": "We can close on Friday.", "auto_submitted": "no"},
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_event_process(event_id=event.pk)
    reply = Activity.objects.get(kind="replied")
    assert (reply.opportunity_id, reply.message_id) == (None, message.pk)
    assert "We can close on Friday." in reply.body
    assert [m.to for m in officer_mail()] == [[officer.email]]


def test_an_sms_reply_to_a_status_update_reaches_the_officer(officer, frozen, django_capture_on_commit_callbacks):
    StatusTemplate.objects.create(
        organization=officer.organization, milestone="Processing", channel="sms", body="{{ milestone }}"
    )
    app = application(officer, milestone="Processing", milestone_changed_at=dt.datetime.now(dt.UTC))
    assert status_updates_run(organization=officer.organization) == 1
    assert dispatch_due_messages().sent == 1
    mail.outbox.clear()
    event, _ = webhook_event_store(
        provider="twilio", kind="sms-inbound", event_id="SM-in-1",
        payload={"From": app.borrower.mobile_phone, "Body": "Thanks! What is next?", "MessageSid": "SM-in-1"},
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_event_process(event_id=event.pk)
    reply = Activity.objects.get(kind="replied")
    assert reply.opportunity_id is None and reply.body == "Thanks! What is next?"
    assert len(officer_mail()) == 1


def test_help_keyword_after_a_status_update_names_its_officer(officer, frozen):
    StatusTemplate.objects.create(
        organization=officer.organization, milestone="Processing", channel="sms", body="{{ milestone }}"
    )
    app = application(officer, milestone="Processing", milestone_changed_at=dt.datetime.now(dt.UTC))
    status_updates_run(organization=officer.organization)
    dispatch_due_messages()
    text = keyword_reply(body="HELP", phone=app.borrower.mobile_phone)
    assert f"Call {officer.display_name} at {officer.phone}." in text
