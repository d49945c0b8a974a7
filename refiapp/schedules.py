"""Every django-q2 schedule of refiapp, declared in one place (STYLE habit 10).

``python manage.py setup_schedules`` writes them with ``update_or_create`` by name: rerunning it changes
nothing but drifted fields, never duplicates a row, and leaves schedules it does not own alone. Task
functions only fetch ids and call services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

UTC = dt.UTC


def _next_minute(now: dt.datetime, step: int) -> dt.datetime:
    base = now.replace(second=0, microsecond=0)
    return base + dt.timedelta(minutes=step - base.minute % step)


def _next_hour(now: dt.datetime) -> dt.datetime:
    return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def _next_daily(hour_utc: int) -> Callable[[dt.datetime], dt.datetime]:
    def first_run(now: dt.datetime) -> dt.datetime:
        candidate = now.astimezone(UTC).replace(hour=hour_utc, minute=0, second=0, microsecond=0)
        return candidate if candidate > now else candidate + dt.timedelta(days=1)

    return first_run


def _next_weekday(weekday: int, *, hour_utc: int) -> Callable[[dt.datetime], dt.datetime]:
    """The next ``weekday`` (Monday = 0) at ``hour_utc``."""

    def first_run(now: dt.datetime) -> dt.datetime:
        base = now.astimezone(UTC).replace(hour=hour_utc, minute=0, second=0, microsecond=0)
        candidate = base + dt.timedelta(days=(weekday - base.weekday()) % 7)
        return candidate if candidate > now else candidate + dt.timedelta(days=7)

    return first_run


def _next_month_start(*, hour_utc: int) -> Callable[[dt.datetime], dt.datetime]:
    def first_run(now: dt.datetime) -> dt.datetime:
        candidate = now.astimezone(UTC).replace(day=1, hour=hour_utc, minute=0, second=0, microsecond=0)
        if candidate > now:
            return candidate
        return (candidate + dt.timedelta(days=32)).replace(day=1)

    return first_run


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    schedule_type: str
    period: dt.timedelta
    first_run: Callable[[dt.datetime], dt.datetime]
    minutes: int | None = None


SCHEDULES: list[ScheduleSpec] = [
    # Optimal Blue's OBMMI for a business day is on FRED by the next morning; 11:00 UTC is after it.
    # daily_refresh fetches rates (and house price indexes) first, then queues one match per organization (they
    # always see today's rates); each organization's task then scores and routes its opportunities.
    ScheduleSpec(
        name="daily-rates-and-match",
        func="refiapp.tasks.daily_refresh",
        schedule_type=Schedule.DAILY,
        period=dt.timedelta(days=1),
        first_run=_next_daily(11),
    ),
    # A match whose worker died mid-run (kill -9, lost machine) is queued again within a minute or two.
    ScheduleSpec(
        name="resume-interrupted-matches",
        func="pipeline.tasks.resume_interrupted_matches",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        period=dt.timedelta(minutes=1),
        first_run=lambda now: _next_minute(now, 1),
    ),
    ScheduleSpec(
        name="dispatch-outreach",
        func="outreach.tasks.dispatch_outreach",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        period=dt.timedelta(minutes=1),
        first_run=lambda now: _next_minute(now, 1),
    ),
    ScheduleSpec(
        name="process-webhook-events",
        func="outreach.tasks.process_pending_webhook_events",
        schedule_type=Schedule.MINUTES,
        minutes=5,
        period=dt.timedelta(minutes=5),
        first_run=lambda now: _next_minute(now, 5),
    ),
    # CRM webhooks: new timeline and refinance events become deliveries, and due deliveries (retries) are sent.
    ScheduleSpec(
        name="send-webhooks",
        func="webhooks.tasks.send_webhooks",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        period=dt.timedelta(minutes=1),
        first_run=lambda now: _next_minute(now, 1),
    ),
    # Opportunities created between daily matches ("Run match now") are auto-enrolled within 15 minutes.
    ScheduleSpec(
        name="enroll-new-opportunities",
        func="outreach.tasks.enroll_new_opportunities",
        schedule_type=Schedule.MINUTES,
        minutes=15,
        period=dt.timedelta(minutes=15),
        first_run=lambda now: _next_minute(now, 15),
    ),
    # Every 15 minutes: each LOS connection runs once its own local time has come (los/selectors.py latest_slot).
    ScheduleSpec(
        name="los-syncs",
        func="los.tasks.run_due_syncs",
        schedule_type=Schedule.MINUTES,
        minutes=15,
        period=dt.timedelta(minutes=15),
        first_run=lambda now: _next_minute(now, 15),
    ),
    # Weekly: each organization's propensity model is retrained on its latest outcomes (then rescored).
    ScheduleSpec(
        name="weekly-propensity-training",
        func="scoring.tasks.train_all_organizations",
        schedule_type=Schedule.WEEKLY,
        period=dt.timedelta(days=7),
        first_run=_next_weekday(6, hour_utc=6),
    ),
    # Monthly, on the 1st at 15:00 UTC (morning in the US; the dispatcher still waits for quiet hours).
    ScheduleSpec(
        name="monthly-borrower-digest",
        func="scoring.tasks.send_monthly_digests",
        schedule_type=Schedule.MONTHLY,
        period=dt.timedelta(days=31),
        first_run=_next_month_start(hour_utc=15),
    ),
    # Hourly: the task itself picks the organizations where it is Monday 08:00 local time.
    ScheduleSpec(
        name="weekly-reports",
        func="reports.tasks.send_due_weekly_reports",
        schedule_type=Schedule.HOURLY,
        period=dt.timedelta(hours=1),
        first_run=_next_hour,
    ),
    # Hourly: each task picks the organizations where it is its local hour (lock alerts 08:00, the 18-month
    # check 07:00), so both run daily in the lender's own zone; reruns queue nothing new.
    ScheduleSpec(
        name="rate-lock-alerts",
        func="automations.tasks.lock_alerts",
        schedule_type=Schedule.HOURLY,
        period=dt.timedelta(hours=1),
        first_run=_next_hour,
    ),
    ScheduleSpec(
        name="loan-reviews",
        func="automations.tasks.loan_reviews",
        schedule_type=Schedule.HOURLY,
        period=dt.timedelta(hours=1),
        first_run=_next_hour,
    ),
    # Every 15 minutes: milestone changes (LOS sync, refinance status) become the borrower's status message.
    ScheduleSpec(
        name="application-status-updates",
        func="automations.tasks.status_updates",
        schedule_type=Schedule.MINUTES,
        minutes=15,
        period=dt.timedelta(minutes=15),
        first_run=lambda now: _next_minute(now, 15),
    ),
    # Stored uploads older than UPLOAD_RETENTION_DAYS lose their file (a quiet hour in the US).
    ScheduleSpec(
        name="expire-uploads",
        func="loans.tasks.expire_uploads",
        schedule_type=Schedule.DAILY,
        period=dt.timedelta(days=1),
        first_run=_next_daily(8),
    ),
]


@transaction.atomic
def setup_schedules(*, now: dt.datetime | None = None) -> list[tuple[Schedule, str]]:
    """Create or update every schedule of SCHEDULES by name: ``[(schedule, "created"|"updated"|"unchanged")]``.

    An existing row keeps its next_run while that is due or within one period ahead (so a rerun never skips
    or doubles a run); otherwise next_run is set to the next slot. Extra rows with one of our names (left by
    code that created schedules without a name check) are removed, since they would run the task twice.
    """
    now = now or timezone.now()
    results = []
    for spec in SCHEDULES:
        rows = list(Schedule.objects.select_for_update().filter(name=spec.name).order_by("pk"))
        for duplicate in rows[1:]:
            duplicate.delete()
        wanted = {
            "func": spec.func,
            "schedule_type": spec.schedule_type,
            "minutes": spec.minutes,
            "repeats": -1,
            "args": None,
            "kwargs": None,
        }
        if not rows:
            schedule = Schedule.objects.create(name=spec.name, next_run=spec.first_run(now), **wanted)
            results.append((schedule, "created"))
            continue
        schedule = rows[0]
        keep_next_run = (
            schedule.next_run is not None
            and schedule.schedule_type == spec.schedule_type
            and schedule.minutes == spec.minutes
            and abs(schedule.next_run - now) <= spec.period
        )
        changed = [field for field, value in wanted.items() if getattr(schedule, field) != value]
        for field in changed:
            setattr(schedule, field, wanted[field])
        if not keep_next_run:
            schedule.next_run = spec.first_run(now)
            changed.append("next_run")
        if changed:
            schedule.save(update_fields=changed)
        results.append((schedule, "updated" if changed else "unchanged"))
    return results
