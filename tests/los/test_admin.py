"""Admin → LOS connections: org admins write through the service, the secret is write-only, managers read."""

from __future__ import annotations

import os
import time

import pytest
from django.urls import reverse

from los.models import LosConnection, LosSync
from los.services.connections import los_connection_save
from refiapp.onboarding import manager_group_ensure
from tests.conftest import client_for
from tests.factories import BranchManagerFactory
from tests.los.conftest import CLIENT_ID, INSTANCE, SECRET

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def staff(admin):
    group, _ = manager_group_ensure()
    manager = BranchManagerFactory(organization=admin.organization)
    for profile in (admin, manager):
        profile.user.groups.add(group)
    return admin, manager


def encompass_form(fake, **overrides) -> dict:
    return {
        "name": "Encompass",
        "kind": "encompass",
        "enabled": "on",
        "base_url": fake.base_url,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "instance_id": INSTANCE,
        "folder": "",
        "schedule": "weekly",
        "run_at": "05:30",
        "weekday": "2",
        **overrides,
    }


def test_org_admin_adds_a_connection_whose_secret_is_encrypted_and_never_shown(staff, fake):
    admin, _manager = staff
    client = client_for(admin)
    response = client.post(reverse("admin:los_losconnection_add"), encompass_form(fake))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    connection = LosConnection.objects.get()
    assert connection.organization == admin.organization
    assert connection.client_secret_encrypted and SECRET not in connection.client_secret_encrypted
    assert connection.schedule_label() == "Weekly, Wednesday 05:30"

    page = client.get(reverse("admin:los_losconnection_change", args=[connection.pk]))
    assert page.status_code == 200
    assert SECRET.encode() not in page.content and connection.client_secret_encrypted.encode() not in page.content
    assert b"Yes (encrypted; never shown)" in page.content

    stored = connection.client_secret_encrypted
    response = client.post(
        reverse("admin:los_losconnection_change", args=[connection.pk]),
        encompass_form(fake, client_secret="", schedule="daily", weekday=""),
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.client_secret_encrypted == stored  # blank keeps the secret
    assert (connection.schedule, connection.weekday) == ("daily", None)


def test_the_form_names_what_a_connection_lacks(staff, fake):
    admin, _manager = staff
    response = client_for(admin).post(
        reverse("admin:los_losconnection_add"),
        encompass_form(fake, client_secret="", instance_id="", base_url="http://api.elliemae.com"),
    )
    errors = response.context["adminform"].form.errors
    assert errors["instance_id"] == ["An Encompass connection needs its instance id."]
    assert errors["client_secret"] == ["An Encompass connection needs its client secret."]
    assert errors["base_url"] == ["Use https (the token and the client secret travel on it)."]
    assert not LosConnection.objects.exists()


def test_a_branch_manager_may_look_and_test_but_not_add_change_or_sync(staff, fake):
    admin, manager = staff
    connection, _ = los_connection_save(
        organization=admin.organization, kind="encompass", base_url=fake.base_url, client_id=CLIENT_ID,
        client_secret=SECRET, instance_id=INSTANCE,
    )  # fmt: skip
    client = client_for(manager)
    assert client.get(reverse("admin:los_losconnection_changelist")).status_code == 200
    assert client.get(reverse("admin:los_losconnection_add")).status_code == 403
    page = client.get(reverse("admin:los_losconnection_change", args=[connection.pk]))
    assert page.status_code == 200 and b'name="client_secret"' not in page.content
    response = client.post(
        reverse("admin:los_losconnection_change", args=[connection.pk]), encompass_form(fake, name="Hijacked")
    )
    assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.name == "Encompass"
    changelist = client.post(
        reverse("admin:los_losconnection_changelist"),
        {"action": "sync_now", "_selected_action": [connection.pk]},
    )
    assert changelist.status_code == 302 and not LosSync.objects.exists()  # no such action for a manager

    tested = client.post(reverse("admin:los_losconnection_test", args=[connection.pk]), follow=True)
    assert "Connected to Encompass instance BE11140034" in tested.content.decode()


def test_test_connection_shows_what_encompass_said(staff, fake):
    admin, _manager = staff
    connection, _ = los_connection_save(
        organization=admin.organization, kind="encompass", base_url=fake.base_url, client_id=CLIENT_ID,
        client_secret="not-the-secret", instance_id=INSTANCE,
    )  # fmt: skip
    client = client_for(admin)
    assert client.get(reverse("admin:los_losconnection_test", args=[connection.pk])).status_code == 200
    page = client.post(reverse("admin:los_losconnection_test", args=[connection.pk]), follow=True).content.decode()
    assert "Encompass refused the credentials (HTTP 401): invalid_client: Client authentication failed." in page
    assert "not-the-secret" not in page


def test_sync_now_and_its_summary_page(staff, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    admin, _manager = staff
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "byte.csv").write_text(
        "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term\n"
        "BY-1,Ann Lee,2023-01-05,300000,6.5,360\nBY-2,Bo Ray,2023-01-05,300000,six,360\n"
    )
    an_hour_ago = time.time() - 3600  # written and closed long ago: past the settle time
    os.utime(folder / "byte.csv", (an_hour_ago, an_hour_ago))
    connection, _ = los_connection_save(organization=admin.organization, kind="folder", folder=str(folder))
    client = client_for(admin)
    response = client.post(
        reverse("admin:los_losconnection_changelist"), {"action": "sync_now", "_selected_action": [connection.pk]}
    )
    assert response.status_code == 302
    sync = LosSync.objects.get()
    assert (sync.trigger, sync.created_count, sync.rejected_count) == ("admin", 1, 1)
    page = client.get(reverse("admin:los_lossync_change", args=[sync.pk])).content.decode()
    assert "Rejected rows (1)" in page and "BY-2" in page and "Note Rate" in page and "byte.csv" in page
    connection_page = client.get(reverse("admin:los_losconnection_change", args=[connection.pk])).content.decode()
    assert reverse("admin:los_lossync_change", args=[sync.pk]) in connection_page
