"""The sync records when an application's milestone changes (the status update automation announces it); the
first sync of a connection is the baseline, so the pipeline that was already there is not announced."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from automations.models import StatusTemplate
from automations.services import status_updates_run
from los.models import Application, LosConnection, LosSync
from los.services.connections import los_connection_save
from los.services.sync import los_sync_run
from outreach.models import Message
from tests.factories import BorrowerFactory, LoanOfficerFactory
from tests.los.conftest import CLIENT_ID, INSTANCE, SECRET, active_loan

pytestmark = [pytest.mark.django_db]
NOW = dt.datetime(2025, 10, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def run(connection: LosConnection, when: dt.datetime) -> LosSync:
    connection.refresh_from_db()
    with time_machine.travel(when, tick=False):
        return los_sync_run(connection=connection, trigger=LosSync.Trigger.COMMAND, client_options={"sleep": [].append})


def test_milestone_changes_are_stamped_and_announced_once(admin, fake):
    organization = admin.organization
    connection, _ = los_connection_save(
        organization=organization, kind=LosConnection.Kind.ENCOMPASS, base_url=fake.base_url,
        client_id=CLIENT_ID, client_secret=SECRET, instance_id=INSTANCE,
    )  # fmt: skip
    LoanOfficerFactory(organization=organization, display_name="Olivia Bennett", branch=None)
    BorrowerFactory(organization=organization, email="maria5820000104@example.com")
    StatusTemplate.objects.create(
        organization=organization, milestone="Approval", subject="Approved", body="{{ milestone }} reached."
    )
    fake.loans += [
        active_loan("g-4", "5820000104", "2025-09-20T08:00:00Z", **{"Loan.LoanOfficerName": "Olivia Bennett"})
    ]
    assert run(connection, NOW).status == LosSync.Status.SUCCEEDED
    assert Application.objects.get().milestone_changed_at is None  # the first sync is the baseline

    fake.loans[0]["fields"].update(
        {"Loan.CurrentMilestoneName": "Approval", "Loan.LastModified": "2025-10-01T16:00:00Z"}
    )
    later = NOW + dt.timedelta(hours=2)
    assert run(connection, later).status == LosSync.Status.SUCCEEDED
    application = Application.objects.get()
    assert (application.milestone, application.milestone_changed_at) == ("Approval", later)

    with time_machine.travel(later, tick=False):
        assert status_updates_run(organization=organization) == 1
        assert status_updates_run(organization=organization) == 0
    message = Message.objects.get()
    assert message.send_key == f"status:los:{application.pk}:approval" and message.opportunity is None

    # Nothing else changes in Encompass: the next sync leaves the stamp alone.
    assert run(connection, later + dt.timedelta(hours=1)).status == LosSync.Status.SUCCEEDED
    assert Application.objects.get().milestone_changed_at == later
