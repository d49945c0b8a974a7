from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from outreach.models import LocalSms, SequenceStep
from outreach.services.sequences import sequence_ensure_default
from tests.conftest import client_for
from tests.factories import (
    BranchFactory,
    BranchManagerFactory,
    LoanFactory,
    LoanOfficerFactory,
    OpportunityFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):  # type: ignore[no-untyped-def]
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def manager_with_outreach_perms(organization, branch):  # type: ignore[no-untyped-def]
    manager = BranchManagerFactory(organization=organization, branch=branch)
    manager.user.user_permissions.add(*Permission.objects.filter(content_type__app_label="outreach"))
    return manager


def test_preview_renders_every_step_against_a_real_opportunity(opportunity, superuser_client):
    sequence = sequence_ensure_default(organization=opportunity.organization)
    response = superuser_client.get(f"/admin/outreach/sequence/{sequence.pk}/preview/?opportunity={opportunity.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ana, today&#x27;s rates could lower your mortgage payment" in html
    assert "SMS (" in html and "Reply STOP to opt out." in html
    assert "https://refi.example.test/r/" in html


def test_manager_preview_is_scoped_to_their_organization(opportunity, officer):
    manager = manager_with_outreach_perms(officer.organization, officer.branch)
    own = sequence_ensure_default(organization=opportunity.organization)
    client = client_for(manager)
    assert client.get(f"/admin/outreach/sequence/{own.pk}/preview/").status_code == 200
    foreign = sequence_ensure_default(organization=OrganizationFactory())
    assert client.get(f"/admin/outreach/sequence/{foreign.pk}/preview/").status_code == 404


XSS = "<script>alert(1)</script>"


def test_preview_escapes_a_borrower_name_in_every_part(opportunity, superuser_client):
    borrower = opportunity.borrower
    borrower.first_name = XSS
    borrower.save()
    sequence = sequence_ensure_default(organization=opportunity.organization)
    response = superuser_client.get(f"/admin/outreach/sequence/{sequence.pk}/preview/?opportunity={opportunity.pk}")
    html = response.content.decode()
    assert response.status_code == 200
    assert XSS not in html  # neither in the plain-text part, the SMS, the subject nor the srcdoc attribute
    assert "<script>" not in html.split('id="content"', 1)[1]
    # The plain-text part shows the name as text; the HTML part is one attribute value (escaped twice: once by
    # the email's own autoescape, once for the attribute), so the sandboxed iframe shows it as text too.
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;," in html
    assert "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;" in html


def test_preview_links_are_placeholders_never_a_signed_borrower_link(opportunity, superuser_client):
    sequence = sequence_ensure_default(organization=opportunity.organization)
    html = superuser_client.get(f"/admin/outreach/sequence/{sequence.pk}/preview/").content.decode()
    assert "https://refi.example.test/r/preview/go/" in html
    assert "https://refi.example.test/u/preview/" in html
    assert superuser_client.get("/r/preview/").status_code == 404
    assert superuser_client.get("/r/preview/go/").status_code == 404


def test_branch_manager_previews_only_their_branch(opportunity, officer):
    manager = manager_with_outreach_perms(officer.organization, officer.branch)
    other_branch = BranchFactory(organization=officer.organization)
    other_officer = LoanOfficerFactory(organization=officer.organization, branch=other_branch)
    foreign = OpportunityFactory(
        loan=LoanFactory(loan_officer=other_officer, borrower__first_name="Zed", borrower__last_name="Elsewhere")
    )
    assert foreign.branch_id == other_branch.pk and opportunity.branch_id == officer.branch_id
    sequence = sequence_ensure_default(organization=opportunity.organization)
    client = client_for(manager)
    url = f"/admin/outreach/sequence/{sequence.pk}/preview/"
    assert client.get(f"{url}?opportunity={foreign.pk}").status_code == 404
    assert client.get(f"{url}?opportunity=nope").status_code == 404
    page = client.get(url).content.decode()
    assert "Elsewhere" not in page and "Ana O&#x27;Neil" in page
    assert client.get(f"{url}?opportunity={opportunity.pk}").status_code == 200


def test_step_inline_rejects_a_broken_template(opportunity, superuser_client):
    sequence = sequence_ensure_default(organization=opportunity.organization)
    steps = list(sequence.steps.order_by("position"))
    data = {
        "organization": opportunity.organization_id,
        "name": sequence.name,
        "is_default": "on",
        "is_active": "on",
        "steps-TOTAL_FORMS": "3",
        "steps-INITIAL_FORMS": "3",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for index, step in enumerate(steps):
        data.update(
            {
                f"steps-{index}-id": step.pk,
                f"steps-{index}-sequence": sequence.pk,
                f"steps-{index}-position": step.position,
                f"steps-{index}-day_offset": step.day_offset,
                f"steps-{index}-channel": step.channel,
                f"steps-{index}-subject_template": step.subject_template,
                f"steps-{index}-body_template": step.body_template,
            }
        )
    data["steps-1-body_template"] = "Hi {% if %}"
    response = superuser_client.post(f"/admin/outreach/sequence/{sequence.pk}/change/", data)
    assert response.status_code == 200 and "Template error" in response.content.decode()
    assert SequenceStep.objects.get(pk=steps[1].pk).body_template == steps[1].body_template


def test_local_sms_outbox_is_for_superusers_only(opportunity, officer, superuser_client):
    LocalSms.objects.create(sid="LS1", to="+13125550100", body="Hello")
    assert superuser_client.get("/admin/outreach/localsms/").status_code == 200
    manager = client_for(manager_with_outreach_perms(officer.organization, officer.branch))
    assert manager.get("/admin/outreach/localsms/").status_code == 403
    assert manager.get("/admin/outreach/message/").status_code == 200


def test_saving_a_step_that_states_a_payment_without_its_terms_is_refused(opportunity, superuser_client):
    sequence = sequence_ensure_default(organization=opportunity.organization)
    steps = list(sequence.steps.order_by("position"))
    data = {
        "organization": opportunity.organization_id,
        "name": sequence.name,
        "is_default": "on",
        "is_active": "on",
        "steps-TOTAL_FORMS": "3",
        "steps-INITIAL_FORMS": "3",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for index, step in enumerate(steps):
        for name in ("position", "day_offset", "channel", "subject_template", "body_template"):
            data[f"steps-{index}-{name}"] = getattr(step, name)
        data.update({f"steps-{index}-id": step.pk, f"steps-{index}-sequence": sequence.pk})
    data["steps-1-body_template"] = "Hi {{ borrower_first_name }}, save {{ monthly_savings }}/mo! {{ scheduling_link }}"
    response = superuser_client.post(f"/admin/outreach/sequence/{sequence.pk}/change/", data)
    assert response.status_code == 200
    assert "Regulation Z §1026.24" in response.content.decode()
    assert SequenceStep.objects.get(pk=steps[1].pk).body_template == steps[1].body_template
    data["steps-1-body_template"] = steps[1].body_template  # the default copy itself passes
    response = superuser_client.post(f"/admin/outreach/sequence/{sequence.pk}/change/", data)
    assert response.status_code == 302
