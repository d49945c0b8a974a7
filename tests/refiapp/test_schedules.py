from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django_q.models import Schedule

from refiapp.schedules import SCHEDULES, setup_schedules

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 23, 9, 37, 12, tzinfo=dt.UTC)


def rows():
    return {s.name: (s.func, s.schedule_type, s.minutes, s.repeats, s.next_run) for s in Schedule.objects.all()}


def test_setup_schedules_creates_every_schedule_with_a_next_run():
    with time_machine.travel(T0, tick=False):
        call_command("setup_schedules")
    assert rows() == {
        "daily-rates-and-match": (
            "refiapp.tasks.daily_refresh",
            "D",
            None,
            -1,
            dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC),
        ),
        "resume-interrupted-matches": (
            "pipeline.tasks.resume_interrupted_matches",
            "I",
            1,
            -1,
            dt.datetime(2026, 11, 23, 9, 38, tzinfo=dt.UTC),
        ),
        "dispatch-outreach": (
            "outreach.tasks.dispatch_outreach",
            "I",
            1,
            -1,
            dt.datetime(2026, 11, 23, 9, 38, tzinfo=dt.UTC),
        ),
        "process-webhook-events": (
            "outreach.tasks.process_pending_webhook_events",
            "I",
            5,
            -1,
            dt.datetime(2026, 11, 23, 9, 40, tzinfo=dt.UTC),
        ),
        "send-webhooks": (
            "webhooks.tasks.send_webhooks",
            "I",
            1,
            -1,
            dt.datetime(2026, 11, 23, 9, 38, tzinfo=dt.UTC),
        ),
        "enroll-new-opportunities": (
            "outreach.tasks.enroll_new_opportunities",
            "I",
            15,
            -1,
            dt.datetime(2026, 11, 23, 9, 45, tzinfo=dt.UTC),
        ),
        "weekly-reports": (
            "reports.tasks.send_due_weekly_reports",
            "H",
            None,
            -1,
            dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC),
        ),
        "expire-uploads": (
            "loans.tasks.expire_uploads",
            "D",
            None,
            -1,
            dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC),
        ),
        "los-syncs": (
            "los.tasks.run_due_syncs",
            "I",
            15,
            -1,
            dt.datetime(2026, 11, 23, 9, 45, tzinfo=dt.UTC),
        ),
        "weekly-propensity-training": (
            "scoring.tasks.train_all_organizations",
            "W",
            None,
            -1,
            dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC),  # Sunday
        ),
        "monthly-borrower-digest": (
            "scoring.tasks.send_monthly_digests",
            "M",
            None,
            -1,
            dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC),
        ),
        "rate-lock-alerts": (
            "automations.tasks.lock_alerts",
            "H",
            None,
            -1,
            dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC),
        ),
        "loan-reviews": (
            "automations.tasks.loan_reviews",
            "H",
            None,
            -1,
            dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC),
        ),
        "application-status-updates": (
            "automations.tasks.status_updates",
            "I",
            15,
            -1,
            dt.datetime(2026, 11, 23, 9, 45, tzinfo=dt.UTC),
        ),
    }


def test_rerun_creates_no_duplicates_and_keeps_next_run():
    setup_schedules(now=T0)
    # the cluster ran the daily and hourly tasks and advanced them; at 12:37 a deploy reruns the command
    Schedule.objects.filter(name="daily-rates-and-match").update(
        next_run=dt.datetime(2026, 11, 24, 11, 0, tzinfo=dt.UTC)
    )
    Schedule.objects.filter(name="weekly-reports").update(next_run=dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC))
    outcomes = setup_schedules(now=dt.datetime(2026, 11, 23, 12, 37, tzinfo=dt.UTC))

    assert Schedule.objects.count() == len(SCHEDULES) == 14
    assert [o for _, o in outcomes if o == "created"] == []
    after = rows()
    assert after["daily-rates-and-match"][4] == dt.datetime(2026, 11, 24, 11, 0, tzinfo=dt.UTC)  # kept
    assert after["weekly-reports"][4] == dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)  # due, within a period: kept
    # a minute schedule left three hours behind (no cluster running) moves to the next slot instead of replaying
    assert after["dispatch-outreach"][4] == dt.datetime(2026, 11, 23, 12, 38, tzinfo=dt.UTC)


def test_rerun_repairs_drift_and_leaves_other_schedules_alone():
    setup_schedules(now=T0)
    Schedule.objects.filter(name="weekly-reports").update(
        func="reports.tasks.old_name", next_run=T0 + dt.timedelta(days=40)
    )
    Schedule.objects.create(name="weekly-reports", func="reports.tasks.send_due_weekly_reports", schedule_type="H")
    other = Schedule.objects.create(
        name="operator-cleanup", func="django.core.management.call_command", schedule_type="D"
    )

    outcomes = dict((s.name, o) for s, o in setup_schedules(now=T0))

    assert outcomes["weekly-reports"] == "updated"
    weekly = Schedule.objects.get(name="weekly-reports")  # the duplicate is gone: .get() does not raise
    assert (weekly.func, weekly.next_run) == (
        "reports.tasks.send_due_weekly_reports",
        dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC),
    )
    assert Schedule.objects.filter(pk=other.pk).exists()
    assert Schedule.objects.count() == len(SCHEDULES) + 1  # ours, and the operator's own schedule


def test_daily_fetch_runs_before_the_match_slot():
    spec = next(s for s in SCHEDULES if s.name == "daily-rates-and-match")
    assert spec.func == "refiapp.tasks.daily_refresh"
    assert spec.first_run(dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC)) == dt.datetime(
        2026, 11, 24, 11, 0, tzinfo=dt.UTC
    )
