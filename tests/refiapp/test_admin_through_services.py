"""Admin writes go through the same services as the app, and a role changes only what it may (issue "One house").

The manager's permissions come from the real "Branch managers" group that onboarding creates.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.models import ApiToken, LoanOfficer, Organization
from loans.models import Borrower, ConsentEvent
from outreach.models import Enrollment
from pipeline.models import Activity, Opportunity
from refiapp.onboarding import manager_group_ensure
from tests.conftest import client_for
from tests.factories import (
    ActivityFactory,
    BorrowerFactory,
    EnrollmentFactory,
    LoanFactory,
    LoanOfficerFactory,
    OpportunityFactory,
    OrgAdminFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(manager):
    group, _ = manager_group_ensure()
    manager.user.groups.add(group)
    return client_for(manager)


def _change_form(opportunity: Opportunity, stage: str) -> dict[str, str]:
    return {"stage": stage, "_save": "Save"}


def test_stage_change_in_admin_goes_through_the_service(staff_client, officer, manager):
    opportunity = OpportunityFactory(loan__loan_officer=officer, loan__branch=officer.branch)
    enrollment = EnrollmentFactory(opportunity=opportunity)
    url = reverse("admin:pipeline_opportunity_change", args=[opportunity.pk])
    response = staff_client.post(url, _change_form(opportunity, Opportunity.Stage.LOST))
    assert response.status_code == 302, response.content.decode()[:2000]
    opportunity.refresh_from_db()
    assert opportunity.stage == Opportunity.Stage.LOST
    entry = Activity.objects.get(opportunity=opportunity, kind=Activity.Kind.STAGE_CHANGE)
    assert (entry.from_stage, entry.to_stage, entry.data["source"], entry.actor) == (
        "new",
        "lost",
        "admin",
        manager.user,
    )
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STOPPED  # outreach heard the stage change


def test_admin_refuses_a_reopen_the_service_refuses(staff_client, officer):
    loan = LoanFactory(loan_officer=officer, branch=officer.branch)
    closed = OpportunityFactory(loan=loan, stage=Opportunity.Stage.LOST)
    OpportunityFactory(loan=loan, stage=Opportunity.Stage.NEW)
    url = reverse("admin:pipeline_opportunity_change", args=[closed.pk])
    response = staff_client.post(url, _change_form(closed, Opportunity.Stage.NEW))
    assert response.status_code == 200
    assert "already has another open opportunity" in response.content.decode()
    closed.refresh_from_db()
    assert closed.stage == Opportunity.Stage.LOST
    assert not Activity.objects.filter(opportunity=closed).exists()


def test_the_timeline_cannot_be_written_in_admin(staff_client, officer):
    activity = ActivityFactory(opportunity__loan__loan_officer=officer, opportunity__loan__branch=officer.branch)
    assert staff_client.get(reverse("admin:pipeline_activity_add")).status_code == 403
    url = reverse("admin:pipeline_activity_change", args=[activity.pk])
    assert staff_client.post(url, {"kind": "won", "body": "fake win"}).status_code == 403
    activity.refresh_from_db()
    assert activity.kind == Activity.Kind.NOTE
    assert staff_client.get(url).status_code == 200  # still readable


def test_consent_fields_are_read_only_and_actions_write_the_ledger(staff_client, officer):
    borrower = BorrowerFactory(organization=officer.organization, email_consent=True, sms_consent=True)
    LoanFactory(borrower=borrower, loan_officer=officer, branch=officer.branch)
    url = reverse("admin:loans_borrower_change", args=[borrower.pk])
    body = staff_client.get(url).content.decode()
    assert 'name="email_opted_out_at"' not in body and 'name="sms_consent"' not in body
    changelist = reverse("admin:loans_borrower_changelist")
    response = staff_client.post(changelist, {"action": "opt_out_sms", "_selected_action": [borrower.pk]})
    assert response.status_code == 302
    borrower.refresh_from_db()
    assert borrower.sms_opted_out_at is not None
    event = ConsentEvent.objects.get(borrower=borrower)
    assert (event.channel, event.action) == ("sms", ConsentEvent.Action.REVOKED)
    staff_client.post(changelist, {"action": "mark_do_not_contact", "_selected_action": [borrower.pk]})
    assert Borrower.objects.get(pk=borrower.pk).do_not_contact
    assert ConsentEvent.objects.filter(borrower=borrower, action=ConsentEvent.Action.DO_NOT_CONTACT).count() == 1


def test_branch_manager_reads_but_cannot_change_organization_settings(staff_client, manager):
    org = manager.organization
    url = reverse("admin:core_organization_change", args=[org.pk])
    response = staff_client.post(url, {"name": "Hijacked", "staleness_days": 99})
    assert response.status_code == 403
    org.refresh_from_db()
    assert org.name != "Hijacked"
    assert staff_client.get(url).status_code == 200


def test_org_admin_changes_organization_settings(manager):
    admin = OrgAdminFactory(organization=manager.organization)
    group, _ = manager_group_ensure()
    admin.user.groups.add(group)
    url = reverse("admin:core_organization_change", args=[admin.organization.pk])
    body = client_for(admin).get(url).content.decode()
    assert 'name="staleness_days"' in body


def test_branch_manager_cannot_issue_a_token_for_the_org_admin(staff_client, manager, officer):
    admin = OrgAdminFactory(organization=manager.organization)
    other_branch_officer = LoanOfficerFactory(organization=manager.organization)
    add = reverse("admin:core_apitoken_add")
    for target in (admin, other_branch_officer):
        response = staff_client.post(add, {"name": "steal", "user": target.user.pk})
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()
    response = staff_client.post(add, {"name": "officer's LOS bridge", "user": officer.user.pk})
    assert response.status_code == 200 and "API token created" in response.content.decode()
    assert ApiToken.objects.get().user == officer.user


def test_setup_organization_creates_a_ready_lender_idempotently(capsys):
    args = ["setup_organization", "lakeside", "--name", "Lakeside Mortgage", "--admin-email", "ops@lakeside.example"]
    args += ["--address", "1 Main St, Denver, CO 80202"]
    call_command(*args, "--timezone", "America/Denver")
    org = Organization.objects.get(slug="lakeside")
    assert org.timezone == "America/Denver" and org.today() is not None
    admin = LoanOfficer.objects.get(organization=org)
    assert admin.role == LoanOfficer.Role.ORG_ADMIN and admin.user.is_staff
    assert admin.user.groups.filter(name="Branch managers").exists()
    assert not admin.user.has_usable_password()
    assert org.series_mappings.exists() and org.sequences.filter(is_default=True).exists()
    call_command(*args)
    assert "unchanged" in capsys.readouterr().out
    assert Organization.objects.filter(slug="lakeside").count() == 1 and LoanOfficer.objects.count() == 1


def test_setup_organization_refuses_a_bad_time_zone():
    with pytest.raises(Exception, match="time zone"):
        call_command("setup_organization", "bad", "--name", "Bad", "--address", "x", "--timezone", "Mars/Olympus")
    assert not Organization.objects.filter(slug="bad").exists()
