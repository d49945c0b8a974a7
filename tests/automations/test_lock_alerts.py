"""Rate-lock expiry alerts under frozen time: exactly one borrower email and one officer notification per lock,
N days before it expires in the organization's zone; an extension resets it; closed applications never get one."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core import mail

from automations.models import OfficerNotification
from automations.services import lock_alerts_run
from automations.services import outbox as outbox_module
from outreach.models import Message
from outreach.services.dispatch import dispatch_due_messages
from pipeline.models import Activity
from refinance.services import refinance_cancel
from tests.automations.conftest import MONDAY_9AM, application, borrower_mail, officer_mail
from tests.factories import LoanFactory, OpportunityFactory, RefinanceTransactionFactory

pytestmark = pytest.mark.django_db

EXPIRES = dt.date(2026, 12, 7)  # 7 days after Monday 2026-11-30


def run(officer):  # type: ignore[no-untyped-def]
    return lock_alerts_run(organization=officer.organization)


def test_los_lock_alert_once_seven_days_before_in_the_organizations_zone(officer, frozen):
    app = application(officer, lock_date=dt.date(2026, 11, 1), lock_expiration=EXPIRES)
    frozen.move_to(dt.datetime(2026, 11, 29, 15, 0, tzinfo=dt.UTC), tick=False)  # 8 days before
    assert run(officer) == 0
    frozen.move_to(dt.datetime(2026, 11, 30, 5, 59, tzinfo=dt.UTC), tick=False)  # still Nov 29 in Chicago
    assert run(officer) == 0 and Message.objects.count() == 0

    frozen.move_to(MONDAY_9AM, tick=False)
    assert run(officer) == 1
    message = Message.objects.get()
    assert (message.kind, message.opportunity, message.loan_officer, message.borrower) == (
        "lock_alert", None, officer, app.borrower,
    )  # fmt: skip
    assert message.send_key == f"lock:los:{app.pk}:2026-12-07"
    assert message.subject == "Your rate lock expires on Dec 7, 2026"
    assert "APP-" in message.body and "/u/" in message.body and "/r/" not in message.body
    notification = OfficerNotification.objects.get()
    assert notification.sent_at is not None and notification.key == message.send_key
    assert [m.to for m in officer_mail()] == [[officer.email]]
    assert "Rate lock expires Dec 7, 2026" in officer_mail()[0].subject

    # Rerun (same day, next day): nothing new.
    assert run(officer) == 0
    frozen.move_to(MONDAY_9AM + dt.timedelta(days=1), tick=False)
    assert run(officer) == 0
    assert (Message.objects.count(), OfficerNotification.objects.count(), len(officer_mail())) == (1, 1, 1)

    # The dispatcher sends it in the officer's name, once, with only the unsubscribe link.
    stats = dispatch_due_messages()
    assert stats.sent == 1
    (email,) = borrower_mail()
    assert email.from_email == f"{officer.display_name} <{officer.email}>"
    assert email.to == [f"{app.borrower.full_name} <{app.borrower.email}>"]
    message.refresh_from_db()
    assert message.status == "sent"
    sent = Activity.objects.get(kind="sent")
    assert (sent.opportunity_id, sent.message_id, sent.borrower_id) == (None, message.pk, app.borrower_id)
    assert dispatch_due_messages().sent == 0


def test_an_extension_or_relock_resets_the_alert(officer, frozen):
    app = application(officer, lock_expiration=EXPIRES)
    assert run(officer) == 1
    app.lock_expiration = dt.date(2026, 12, 21)  # extended by two weeks
    app.save()
    assert run(officer) == 0  # not due yet for the new date
    frozen.move_to(dt.datetime(2026, 12, 14, 15, 0, tzinfo=dt.UTC), tick=False)
    assert run(officer) == 1
    assert sorted(Message.objects.values_list("send_key", flat=True)) == [
        f"lock:los:{app.pk}:2026-12-07",
        f"lock:los:{app.pk}:2026-12-21",
    ]
    assert OfficerNotification.objects.filter(sent_at__isnull=False).count() == 2


@pytest.mark.parametrize("milestone", ["Funded", "Loan Withdrawn", "Cancelled", "Closed"])
def test_withdrawn_funded_or_closed_applications_never_get_one(officer, frozen, milestone):
    application(officer, lock_expiration=EXPIRES, milestone=milestone)
    application(officer, lock_expiration=EXPIRES, status="closed", loan_guid="g-closed")
    application(officer, lock_expiration=EXPIRES, borrower=None, loan_guid="g-no-borrower")
    application(officer, lock_expiration=dt.date(2026, 11, 29), loan_guid="g-expired")  # already expired
    assert run(officer) == 0
    assert not Message.objects.exists() and mail.outbox == []


def test_refinance_lock_alert_with_its_opportunity_and_timeline(officer, frozen):
    opportunity = OpportunityFactory(loan=LoanFactory(loan_officer=officer), stage="application")
    refinance = RefinanceTransactionFactory(
        existing_loan=opportunity.loan, opportunity=opportunity, rate_lock_expiration=dt.date(2026, 12, 3)
    )
    assert run(officer) == 1
    message = Message.objects.get()
    assert message.opportunity == opportunity and message.send_key == f"lock:refinance:{refinance.pk}:2026-12-03"
    kinds = list(opportunity.activities.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["queued", "note"]
    assert "borrower alerted" in opportunity.activities.get(kind="note").body
    # The opportunity is at Application: the dispatcher still sends the alert (it is about the application).
    assert dispatch_due_messages().sent == 1
    assert run(officer) == 0


def test_cancelled_or_funded_refinance_gets_none(officer, frozen):
    refinance = RefinanceTransactionFactory(
        existing_loan=LoanFactory(loan_officer=officer), rate_lock_expiration=dt.date(2026, 12, 3)
    )
    refinance_cancel(refinance=refinance, actor=None)
    RefinanceTransactionFactory(
        existing_loan=LoanFactory(loan_officer=officer), rate_lock_expiration=dt.date(2026, 12, 3), status="funded"
    )
    assert run(officer) == 0


def test_a_concurrent_run_that_queued_first_means_nothing_is_queued_twice(officer, frozen):
    """Two workers: the other one inserted the same send key after our read; our insert loses (IntegrityError)
    and neither the message nor the officer's notification is doubled."""
    app = application(officer, lock_expiration=EXPIRES)
    assert run(officer) == 1
    with mock.patch.object(outbox_module, "existing_keys", return_value=set()):
        with mock.patch("automations.services.lock_alerts.existing_keys", return_value=set()):
            assert run(officer) == 0
    assert Message.objects.filter(send_key=f"lock:los:{app.pk}:2026-12-07").count() == 1
    assert OfficerNotification.objects.count() == 1 and len(officer_mail()) == 1


def test_an_officer_notification_that_failed_is_retried_once(officer, frozen):
    application(officer, lock_expiration=EXPIRES)
    with mock.patch("automations.services.outbox.send_mail", side_effect=OSError("smtp down")):
        assert run(officer) == 1
    notification = OfficerNotification.objects.get()
    assert notification.sent_at is None and "smtp down" in notification.error
    assert run(officer) == 0  # the alert is not queued again; the notification goes now
    notification.refresh_from_db()
    assert notification.sent_at is not None and len(officer_mail()) == 1
    run(officer)
    assert len(officer_mail()) == 1


def test_lock_alert_days_is_the_organizations_setting(officer, frozen):
    organization = officer.organization
    organization.lock_alert_days = 3
    organization.save()
    application(officer, lock_expiration=EXPIRES)
    assert run(officer) == 0
    frozen.move_to(dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC), tick=False)
    assert run(officer) == 1
