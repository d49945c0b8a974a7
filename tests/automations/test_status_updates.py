"""Application status updates: the borrower gets the organization's message for each milestone reached (LOS
sync, refinance approve / fund / cancel), once per milestone; a blank or missing template sends nothing."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from automations.models import StatusTemplate
from automations.services import status_updates_run
from automations.services.templates import status_templates_ensure
from outreach.models import LocalSms, Message
from outreach.services.dispatch import dispatch_due_messages
from refinance.services import refinance_approve, refinance_cancel, refinance_fund
from tests.automations.conftest import application, borrower_mail
from tests.factories import BorrowerFactory, LoanFactory, OpportunityFactory, RefinanceTransactionFactory

pytestmark = pytest.mark.django_db


def frozen_now() -> dt.datetime:
    return timezone.now()


def run(officer):  # type: ignore[no-untyped-def]
    return status_updates_run(organization=officer.organization)


def template(officer, milestone, **values):  # type: ignore[no-untyped-def]
    defaults = {
        "subject": "{{ borrower_first_name }}, your loan is in {{ milestone }}",
        "body": "Hi {{ borrower_first_name }}, loan {{ loan_number }} reached {{ milestone }}. {{ lo_name }}",
    }
    return StatusTemplate.objects.create(
        organization=officer.organization, milestone=milestone, **{**defaults, **values}
    )


def test_los_milestone_change_sends_the_templates_once_by_email_and_sms(officer, frozen):
    template(officer, "Processing")
    template(officer, "processing", channel="sms", subject="", body="Loan {{ loan_number }}: {{ milestone }}.")
    app = application(officer, milestone="Processing", milestone_changed_at=frozen_now())
    application(officer, milestone="Processing", loan_guid="g-old")  # no change seen: the baseline
    assert run(officer) == 2
    messages = {m.channel: m for m in Message.objects.all()}
    assert set(messages) == {"email", "sms"}
    email = messages["email"]
    assert (email.kind, email.opportunity, email.loan_officer) == ("status_update", None, officer)
    assert email.send_key == f"status:los:{app.pk}:processing"
    assert messages["sms"].send_key == f"status:los:{app.pk}:processing:sms"
    assert email.subject == "Lee, your loan is in Processing"
    assert f"loan {app.loan_number} reached Processing. {officer.display_name}" in email.body
    assert messages["sms"].body == f"Loan {app.loan_number}: Processing. Reply STOP to opt out."
    assert run(officer) == 0

    stats = dispatch_due_messages()
    assert stats.sent == 2 and len(borrower_mail()) == 1 and LocalSms.objects.count() == 1

    # The next milestone is announced once too; an old change (beyond the look-back) never is.
    app.milestone, app.milestone_changed_at = "Approval", frozen_now()
    app.save()
    template(officer, "Approval")
    assert run(officer) == 1
    assert run(officer) == 0


def test_blank_missing_or_inactive_template_sends_nothing(officer, frozen):
    template(officer, "Processing", body="   ")
    template(officer, "Underwriting", is_active=False)
    application(officer, milestone="Processing", milestone_changed_at=frozen_now())
    application(officer, milestone="Underwriting", milestone_changed_at=frozen_now(), loan_guid="g-2")
    application(officer, milestone="Docs Out", milestone_changed_at=frozen_now(), loan_guid="g-3")  # none
    assert run(officer) == 0
    assert not Message.objects.exists()


def test_sms_status_update_needs_sms_consent(officer, frozen):
    template(officer, "Processing", channel="sms", subject="", body="{{ milestone }}")
    borrower = BorrowerFactory(organization=officer.organization, sms_consent=False)
    application(officer, borrower=borrower, milestone="Processing", milestone_changed_at=frozen_now())
    assert run(officer) == 1
    stats = dispatch_due_messages()
    assert (stats.sent, stats.suppressed) == (0, 1)
    assert Message.objects.get().error_message == "No SMS express written consent."


def test_refinance_initiated_approved_funded_and_cancelled(officer, frozen):
    status_templates_ensure(organization=officer.organization)
    loan = LoanFactory(loan_officer=officer)
    opportunity = OpportunityFactory(loan=loan, stage="application")
    refinance = RefinanceTransactionFactory(existing_loan=loan, opportunity=opportunity)
    refinance.events.create(to_status="initiated")
    assert run(officer) == 1
    refinance_approve(refinance=refinance, actor=None)
    assert run(officer) == 1
    refinance_fund(refinance=refinance, actor=None)
    assert run(officer) == 1
    assert run(officer) == 0
    keys = list(Message.objects.order_by("pk").values_list("send_key", "subject", "opportunity_id"))
    assert keys == [
        (f"status:refinance:{refinance.pk}:initiated", "Your refinance application has started", opportunity.pk),
        (f"status:refinance:{refinance.pk}:approved", "Good news: your refinance is approved", opportunity.pk),
        (f"status:refinance:{refinance.pk}:funded", "Your new loan has funded", opportunity.pk),
    ]
    # The opportunity is Won now: a status update is about the application and still goes out.
    assert dispatch_due_messages().sent == 3

    other = RefinanceTransactionFactory(existing_loan=LoanFactory(loan_officer=officer))
    refinance_cancel(refinance=other, actor=None)
    assert run(officer) == 1
    cancelled = Message.objects.get(send_key=f"status:refinance:{other.pk}:cancelled")
    assert cancelled.opportunity is None and cancelled.loan_officer == officer
    assert cancelled.subject == "Your refinance application was cancelled"


def test_changes_older_than_the_look_back_are_not_announced(officer, frozen):
    template(officer, "Processing")
    application(officer, milestone="Processing", milestone_changed_at=frozen_now() - dt.timedelta(days=4))
    assert run(officer) == 0


def test_default_templates_are_created_once_and_edits_kept(officer):
    organization = officer.organization
    assert status_templates_ensure(organization=organization) == 4
    StatusTemplate.objects.filter(organization=organization, milestone="Approved").update(body="")
    assert status_templates_ensure(organization=organization) == 0
    assert StatusTemplate.objects.get(organization=organization, milestone="Approved").body == ""


def test_a_template_that_does_not_render_is_refused(officer):
    bad = StatusTemplate(organization=officer.organization, milestone="X", subject="Hi", body="{% if %}")
    with pytest.raises(ValidationError) as caught:
        bad.full_clean()
    assert "body" in caught.value.message_dict
    no_subject = StatusTemplate(organization=officer.organization, milestone="Y", body="Hello")
    with pytest.raises(ValidationError):
        no_subject.full_clean()


def test_a_concurrent_run_never_queues_a_status_update_twice(officer, frozen):
    template(officer, "Processing")
    application(officer, milestone="Processing", milestone_changed_at=frozen_now())
    assert run(officer) == 1
    with mock.patch("automations.services.status_updates.existing_keys", return_value=set()):
        assert run(officer) == 0  # the insert meets the send key's unique constraint
    assert Message.objects.count() == 1
