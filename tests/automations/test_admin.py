"""The status templates' admin as a branch manager uses it: a second template for a milestone and channel (in any
letter case, new or edited) and a template that does not compile are form errors, never a server error."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from automations.models import StatusTemplate
from tests.conftest import client_for
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
DUPLICATE = "There is already a template for this milestone and channel."


@pytest.fixture
def admin_client(manager):  # type: ignore[no-untyped-def]
    manager.user.user_permissions.add(*Permission.objects.filter(codename__endswith="_statustemplate"))
    return client_for(manager)


def template(organization, milestone: str) -> StatusTemplate:  # type: ignore[no-untyped-def]
    return StatusTemplate.objects.create(
        organization=organization, milestone=milestone, channel="email", subject="S", body="B {{ milestone }}"
    )


def form(milestone: str, **values: str) -> dict[str, str]:
    return {"milestone": milestone, "channel": "email", "subject": "Hi", "body": "Body", "is_active": "on", **values}


def test_a_second_template_for_a_milestone_is_a_form_error(admin_client, manager):
    template(manager.organization, "Approved")
    response = admin_client.post(reverse("admin:automations_statustemplate_add"), form("APPROVED"))
    assert response.status_code == 200
    assert DUPLICATE in response.content.decode()
    assert StatusTemplate.objects.filter(organization=manager.organization).count() == 1


def test_renaming_onto_another_milestone_is_a_form_error(admin_client, manager):
    template(manager.organization, "Approved")
    funded = template(manager.organization, "Funded")
    response = admin_client.post(reverse("admin:automations_statustemplate_change", args=[funded.pk]), form("approved"))
    assert response.status_code == 200
    assert DUPLICATE in response.content.decode()
    funded.refresh_from_db()
    assert funded.milestone == "Funded"


def test_another_organizations_template_does_not_block_and_the_row_is_the_managers(admin_client, manager):
    template(OrganizationFactory(), "Approved")
    response = admin_client.post(
        reverse("admin:automations_statustemplate_add"), form("Approved", subject="<script>x</script>")
    )
    assert response.status_code == 302
    assert StatusTemplate.objects.get(milestone="Approved", organization=manager.organization).subject.startswith("<")


def test_a_template_that_does_not_compile_is_a_field_error(admin_client, manager):
    response = admin_client.post(
        reverse("admin:automations_statustemplate_add"), form("Processing", body="{% if milestone %}open")
    )
    assert response.status_code == 200
    assert "The template does not render" in response.content.decode()
    assert not StatusTemplate.objects.filter(milestone="Processing").exists()
