"""The hourly tasks act for each organization at its own local hour; schedules are declared once."""

from __future__ import annotations

import datetime as dt

import pytest

from automations import tasks
from automations.models import StatusTemplate
from outreach.models import Message
from refiapp.schedules import SCHEDULES
from tests.automations.conftest import application

pytestmark = pytest.mark.django_db


def test_lock_alerts_run_at_8_in_the_organizations_zone(officer, frozen):
    application(officer, lock_expiration=dt.date(2026, 12, 7))
    assert tasks.lock_alerts(now=dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)) == "0 lock alert(s) queued"  # 7:00
    assert tasks.lock_alerts(now=dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC)) == "1 lock alert(s) queued"  # 8:00
    assert tasks.lock_alerts(now=dt.datetime(2026, 11, 30, 14, 30, tzinfo=dt.UTC)) == "0 lock alert(s) queued"
    assert Message.objects.count() == 1


def test_status_updates_and_reviews_tasks(officer, frozen):
    StatusTemplate.objects.create(organization=officer.organization, milestone="Processing", subject="S", body="B")
    application(officer, milestone_changed_at=dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC))
    assert tasks.status_updates() == "1 status update(s) queued"
    assert tasks.status_updates() == "0 status update(s) queued"
    # 7:00 in Chicago: the review runs (no market rate here, so nothing is checked); 8:00: not its hour.
    assert tasks.loan_reviews(now=dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)) == "0 loan(s) reviewed, 0 cleared"


def test_the_schedules_are_declared():
    funcs = {spec.name: spec.func for spec in SCHEDULES}
    assert funcs["rate-lock-alerts"] == "automations.tasks.lock_alerts"
    assert funcs["loan-reviews"] == "automations.tasks.loan_reviews"
    assert funcs["application-status-updates"] == "automations.tasks.status_updates"
