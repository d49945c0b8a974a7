"""When connections run (the organization's local time), the 15-minute task, and the two commands."""

from __future__ import annotations

import datetime as dt
import os
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from loans.models import Loan
from los.models import LosConnection, LosSync
from los.selectors import due_slot, latest_slot
from los.services.connections import los_connection_save
from los.services.sync import los_syncs_run_due
from los.tasks import run_due_syncs
from refiapp.schedules import setup_schedules
from tests.los.conftest import CLIENT_ID, INSTANCE, SECRET, closed_loan

pytestmark = [pytest.mark.django_db]
UTC = dt.UTC


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "exports"
    path.mkdir()
    return path


def connection(admin, folder, **values) -> LosConnection:
    made, _ = los_connection_save(organization=admin.organization, kind="folder", folder=str(folder), **values)
    return made


def test_daily_slot_is_the_local_time_in_the_organizations_zone(admin, folder):
    made = connection(admin, folder, run_at=dt.time(6, 0))  # organization in America/Chicago
    assert latest_slot(made, dt.datetime(2025, 10, 1, 10, 59, tzinfo=UTC)) == dt.datetime(2025, 9, 30, 11, tzinfo=UTC)
    assert latest_slot(made, dt.datetime(2025, 10, 1, 11, 0, tzinfo=UTC)) == dt.datetime(2025, 10, 1, 11, tzinfo=UTC)
    # After the DST change 06:00 Chicago is 12:00 UTC.
    assert latest_slot(made, dt.datetime(2025, 11, 3, 13, tzinfo=UTC)) == dt.datetime(2025, 11, 3, 12, tzinfo=UTC)


def test_weekly_slot_is_the_chosen_weekday(admin, folder):
    made = connection(admin, folder, schedule="weekly", weekday=0, run_at=dt.time(7, 30))  # Mondays 07:30
    wednesday = dt.datetime(2025, 10, 1, 18, tzinfo=UTC)
    assert latest_slot(made, wednesday) == dt.datetime(2025, 9, 29, 12, 30, tzinfo=UTC)
    monday_early = dt.datetime(2025, 10, 6, 12, 0, tzinfo=UTC)
    assert latest_slot(made, monday_early) == dt.datetime(2025, 9, 29, 12, 30, tzinfo=UTC)


def test_a_slot_is_claimed_once_however_many_workers_ask(admin, folder):
    made = connection(admin, folder)
    now = dt.datetime(2025, 10, 1, 11, 5, tzinfo=UTC)
    assert due_slot(made, now) is not None  # a new connection is due at once
    assert los_syncs_run_due(now=now) == [made.pk]
    assert los_syncs_run_due(now=now) == []
    assert los_syncs_run_due(now=now + dt.timedelta(hours=23)) == []
    assert los_syncs_run_due(now=now + dt.timedelta(hours=24)) == [made.pk]
    LosConnection.objects.filter(pk=made.pk).update(enabled=False)
    assert los_syncs_run_due(now=now + dt.timedelta(days=2)) == []


def test_the_task_runs_due_connections(admin, folder):
    made = connection(admin, folder)
    export = folder / "byte.csv"
    export.write_text(
        "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term\nBY-1,Ann Lee,2023-01-05,1,6.5,360\n"
    )
    long_ago = time.time() - 3600
    os.utime(export, (long_ago, long_ago))
    assert run_due_syncs() == "1 connection(s) due"  # Q_CLUSTER sync=True in tests: the sync ran inline
    sync = LosSync.objects.get()
    assert (sync.connection, sync.trigger, sync.created_count) == (made, "schedule", 1)
    assert run_due_syncs() == "0 connection(s) due"


def test_the_schedule_is_declared_with_the_others():
    setup_schedules(now=dt.datetime(2025, 10, 1, 11, 7, tzinfo=UTC))
    schedule = Schedule.objects.get(name="los-syncs")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("los.tasks.run_due_syncs", "I", 15)
    assert schedule.next_run == dt.datetime(2025, 10, 1, 11, 15, tzinfo=UTC)


def test_los_connection_creates_then_changes_nothing_and_never_prints_the_secret(admin, fake):
    args = ["--org", admin.organization.slug, "--kind", "encompass", "--base-url", fake.base_url]
    args += ["--client-id", CLIENT_ID, "--client-secret", SECRET, "--instance-id", INSTANCE, "--schedule", "daily"]
    out = StringIO()
    call_command("los_connection", *args, stdout=out)
    assert out.getvalue().startswith("Created: 'Encompass' of ")
    assert "client secret stored encrypted; Daily 06:00 America/Chicago; enabled." in out.getvalue()
    again = StringIO()
    call_command("los_connection", *args, stdout=again)
    assert again.getvalue().startswith("Unchanged: ")
    assert SECRET not in out.getvalue() + again.getvalue()
    moved = StringIO()
    call_command(
        "los_connection", *args[:-2], "--schedule", "weekly", "--weekday", "friday", "--at", "19:15", stdout=moved
    )
    assert "Updated: " in moved.getvalue() and "Weekly, Friday 19:15" in moved.getvalue()
    assert LosConnection.objects.count() == 1


def test_los_connection_refuses_what_cannot_work(admin, tmp_path):
    with pytest.raises(CommandError, match=r"folder: .*missing is not a directory on this server"):
        call_command(
            "los_connection", "--org", admin.organization.slug, "--kind", "folder", "--path", str(tmp_path / "missing")
        )
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        call_command("los_connection", "--org", "nope", "--kind", "folder", "--path", str(tmp_path))


def test_sync_los_prints_the_import_summary_and_exits_1_on_rejected_rows(admin, fake):
    los_connection_save(
        organization=admin.organization, kind="encompass", base_url=fake.base_url, client_id=CLIENT_ID,
        client_secret=SECRET, instance_id=INSTANCE,
    )  # fmt: skip
    fake.loans += [
        closed_loan("g-1", "5820000101", "2025-09-10T08:00:00Z"),
        closed_loan("g-2", "5820000102", "2025-09-11T08:00:00Z", **{"Fields.3": "abc"}),
    ]
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("sync_los", "--org", admin.organization.slug, stdout=out)
    assert caught.value.returncode == 1 and "1 rows were rejected" in str(caught.value)
    lines = out.getvalue().splitlines()
    assert lines[:2] == [
        "Encompass (Encompass (Developer Connect API)): Succeeded",
        "  rows 2  created 1  updated 0  unchanged 0  rejected 1",
    ]
    assert "  loan 5820000102, Fields.3: not a number; write the rate like 6.5 or 6.500% (got 'abc')" in lines
    assert Loan.objects.count() == 1

    # The lender fixes the rate in Encompass, which moves the loan's last-modified: the next sync takes it in.
    fake.loans[1]["fields"].update({"Fields.3": "6.25", "Loan.LastModified": "2025-09-12T08:00:00Z"})
    out = StringIO()
    call_command("sync_los", "--org", admin.organization.slug, stdout=out)
    assert "  rows 1  created 1  updated 0  unchanged 0  rejected 0" in out.getvalue()
    out = StringIO()
    call_command("sync_los", "--org", admin.organization.slug, stdout=out)  # idempotent
    assert "  rows 1  created 0  updated 0  unchanged 1  rejected 0" in out.getvalue()
