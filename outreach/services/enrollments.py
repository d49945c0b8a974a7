"""Enrollments: one borrower's run through a sequence, and the outbox rows it schedules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from core.models import Organization
from outreach.models import Enrollment, Message, Sequence, SequenceStep
from outreach.sendwindow import due_at_for_day, zone_for
from outreach.services.sequences import sequence_ensure_default
from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import activity_record

RUNNING = (Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED)
# Stages at which outreach must not run: the borrower applied (refinance initiated) or the opportunity is closed.
STOP_STAGES = {
    Opportunity.Stage.APPLICATION: Enrollment.StopReason.APPLICATION,
    Opportunity.Stage.WON: Enrollment.StopReason.WON,
    Opportunity.Stage.LOST: Enrollment.StopReason.CLOSED,
    Opportunity.Stage.ARCHIVED: Enrollment.StopReason.CLOSED,
}
BULK_CHUNK = 500


class EnrollmentError(ValueError):
    pass


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _build_messages(
    *, enrollment: Enrollment, opportunity: Opportunity, steps: list[SequenceStep], start: dt.datetime
) -> list[Message]:
    zone = zone_for(borrower=opportunity.borrower, organization=opportunity.organization)
    return [
        Message(
            organization_id=opportunity.organization_id,
            enrollment=enrollment,
            step=step,
            opportunity=opportunity,
            borrower_id=opportunity.borrower_id,
            channel=step.channel,
            status=Message.Status.SCHEDULED,
            due_at=due_at_for_day(start=start, day_offset=step.day_offset, zone=zone),
        )
        for step in steps
    ]


def _timeline_rows(
    *, enrollment: Enrollment, opportunity: Opportunity, messages: list[Message], actor: Any, now: dt.datetime
) -> list[Activity]:
    common = {
        "organization_id": opportunity.organization_id,
        "opportunity": opportunity,
        "borrower_id": opportunity.borrower_id,
        "actor": _actor(actor),
        "occurred_at": now,
    }
    rows = [
        Activity(
            kind=Activity.Kind.ENROLLED,
            body=f"Enrolled in “{enrollment.sequence.name}”.",
            data={"enrollment": enrollment.pk, "sequence": enrollment.sequence_id},
            **common,
        )
    ]
    for message in messages:
        rows.append(
            Activity(
                kind=Activity.Kind.QUEUED,
                channel=message.channel,
                message_id=message.pk,
                body=f"Day {message.step.day_offset} {message.step.get_channel_display()} scheduled.",
                data={"due_at": message.due_at.isoformat()},
                **common,
            )
        )
    return rows


def _usable_sequence(*, opportunity: Opportunity, sequence: Sequence | None) -> tuple[Sequence, list[SequenceStep]]:
    if sequence is None:
        sequence = sequence_ensure_default(organization=opportunity.organization)
    if sequence.organization_id != opportunity.organization_id:
        raise EnrollmentError("That sequence belongs to another organization.")
    if not sequence.is_active:
        raise EnrollmentError(f"The sequence “{sequence.name}” is not active.")
    steps = list(sequence.steps.order_by("position"))
    if not steps:
        raise EnrollmentError(f"The sequence “{sequence.name}” has no steps.")
    return sequence, steps


@transaction.atomic
def enrollment_create(*, opportunity: Opportunity, sequence: Sequence | None = None, actor: Any = None) -> Enrollment:
    """Enroll an opportunity's borrower: one Message per step, due at the start of day N in their timezone."""
    opportunity = Opportunity.objects.select_related("borrower", "organization").get(pk=opportunity.pk)
    if opportunity.stage in STOP_STAGES:
        raise EnrollmentError(f"Opportunities at stage “{opportunity.get_stage_display()}” are not contacted.")
    sequence, steps = _usable_sequence(opportunity=opportunity, sequence=sequence)
    if Enrollment.objects.filter(opportunity=opportunity, status__in=RUNNING).exists():
        raise EnrollmentError("This opportunity already has a running sequence.")
    now = timezone.now()
    enrollment = Enrollment(
        organization_id=opportunity.organization_id,
        opportunity=opportunity,
        sequence=sequence,
        status=Enrollment.Status.ACTIVE,
        enrolled_by=_actor(actor),
        started_at=now,
    )
    enrollment.full_clean(exclude=["opportunity", "sequence", "organization", "enrolled_by"])
    try:
        with transaction.atomic():
            enrollment.save()
    except IntegrityError as exc:  # a concurrent enrollment won the race (one running per opportunity)
        raise EnrollmentError("This opportunity already has a running sequence.") from exc
    messages = Message.objects.bulk_create(
        _build_messages(enrollment=enrollment, opportunity=opportunity, steps=steps, start=now)
    )
    Activity.objects.bulk_create(
        _timeline_rows(enrollment=enrollment, opportunity=opportunity, messages=messages, actor=actor, now=now)
    )
    return enrollment


def enrollments_create_for_new_opportunities(*, organization: Organization) -> int:
    """Auto-enroll (org setting) every new, qualifying opportunity that was never enrolled. Set-based in chunks.

    A chunk that collides with a concurrent manual enrollment is retried one opportunity at a time.
    """
    if not organization.auto_enroll:
        return 0
    return enrollments_create_for(
        organization=organization,
        opportunities=Opportunity.objects.filter(stage=Opportunity.Stage.NEW, qualifies=True),
    )


def enrollments_create_for(*, organization: Organization, opportunities: QuerySet[Opportunity]) -> int:
    """Enroll, in the organization's default sequence, those of ``opportunities`` that were never enrolled and
    whose borrower may be contacted (auto-enroll, and the score routing of ``scoring``). Set-based in chunks."""
    sequence = sequence_ensure_default(organization=organization)
    if not sequence.is_active:
        return 0
    steps = list(sequence.steps.order_by("position"))
    if not steps:
        return 0
    never_enrolled = ~Exists(Enrollment.objects.filter(opportunity=OuterRef("pk")))
    candidates = (
        opportunities.filter(organization=organization, borrower__do_not_contact=False)
        .filter(never_enrolled)
        .select_related("borrower", "organization")
        .order_by("pk")
    )
    created = 0
    batch: list[Opportunity] = []
    for opportunity in candidates.iterator(chunk_size=BULK_CHUNK):
        batch.append(opportunity)
        if len(batch) >= BULK_CHUNK:
            created += _enroll_chunk(batch, sequence=sequence, steps=steps)
            batch = []
    if batch:
        created += _enroll_chunk(batch, sequence=sequence, steps=steps)
    return created


def _enroll_chunk(opportunities: list[Opportunity], *, sequence: Sequence, steps: list[SequenceStep]) -> int:
    now = timezone.now()
    try:
        with transaction.atomic():
            enrollments = Enrollment.objects.bulk_create(
                [
                    Enrollment(
                        organization_id=opp.organization_id,
                        opportunity=opp,
                        sequence=sequence,
                        status=Enrollment.Status.ACTIVE,
                        started_at=now,
                    )
                    for opp in opportunities
                ]
            )
            messages: list[Message] = []
            per_enrollment: list[tuple[Enrollment, Opportunity, list[Message]]] = []
            for enrollment, opp in zip(enrollments, opportunities, strict=True):
                rows = _build_messages(enrollment=enrollment, opportunity=opp, steps=steps, start=now)
                messages.extend(rows)
                per_enrollment.append((enrollment, opp, rows))
            Message.objects.bulk_create(messages, batch_size=1000)
            activities: list[Activity] = []
            for enrollment, opp, rows in per_enrollment:
                activities.extend(
                    _timeline_rows(enrollment=enrollment, opportunity=opp, messages=rows, actor=None, now=now)
                )
            Activity.objects.bulk_create(activities, batch_size=1000)
        return len(enrollments)
    except IntegrityError:
        created = 0
        for opp in opportunities:
            try:
                enrollment_create(opportunity=opp, sequence=sequence)
                created += 1
            except EnrollmentError:
                continue
        return created


def _cancel_scheduled(enrollment: Enrollment, reason: str) -> int:
    return Message.objects.filter(enrollment=enrollment, status=Message.Status.SCHEDULED).update(
        status=Message.Status.CANCELLED, hold_reason="", error_message=reason, updated_at=timezone.now()
    )


@transaction.atomic
def enrollment_pause(
    *, enrollment: Enrollment, actor: Any = None, reason: str = "", engagement: str = ""
) -> Enrollment:
    """Pause an active sequence (by the loan officer, or because the borrower engaged: ``engagement`` is the
    StopReason of the reply / click / booking, shown with the pause until the officer resumes or closes it)."""
    now = timezone.now()
    if not Enrollment.objects.filter(pk=enrollment.pk, status=Enrollment.Status.ACTIVE).update(
        status=Enrollment.Status.PAUSED, paused_at=now, stop_reason=engagement
    ):
        raise EnrollmentError("Only an active sequence can be paused.")
    enrollment.refresh_from_db()
    activity_record(
        opportunity=enrollment.opportunity, kind=Activity.Kind.PAUSED, actor=actor, body=reason, occurred_at=now
    )
    return enrollment


def enrollment_pause_for_opportunity(*, opportunity: Opportunity, reason: str, engagement: str) -> Enrollment | None:
    """Pause the opportunity's active enrollment, if any (the borrower engaged: DESIGN §6). Its scheduled messages
    wait; the loan officer resumes it where it left off or closes it. Returns the paused enrollment."""
    enrollment = Enrollment.objects.filter(opportunity=opportunity, status=Enrollment.Status.ACTIVE).first()
    if enrollment is None:
        return None
    try:
        with transaction.atomic():
            return enrollment_pause(enrollment=enrollment, reason=reason, engagement=engagement)
    except EnrollmentError:  # paused, stopped or completed meanwhile
        return None


@transaction.atomic
def enrollment_resume(*, enrollment: Enrollment, actor: Any = None, reason: str = "") -> Enrollment:
    """Resume a paused sequence; the remaining steps keep their spacing (due dates move by the pause length)."""
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if locked.status != Enrollment.Status.PAUSED:
        raise EnrollmentError("Only a paused sequence can be resumed.")
    now = timezone.now()
    if locked.opportunity.stage in STOP_STAGES:
        raise EnrollmentError("The opportunity is closed or in application; the sequence cannot resume.")
    paused_for = now - (locked.paused_at or now)
    if paused_for > dt.timedelta(0):
        Message.objects.filter(enrollment=locked, status=Message.Status.SCHEDULED).update(
            due_at=F("due_at") + paused_for, updated_at=now
        )
    locked.status, locked.paused_at, locked.stop_reason = Enrollment.Status.ACTIVE, None, ""
    locked.save(update_fields=["status", "paused_at", "stop_reason"])
    activity_record(
        opportunity=locked.opportunity, kind=Activity.Kind.RESUMED, actor=actor, body=reason, occurred_at=now
    )
    enrollment.status, enrollment.paused_at = locked.status, locked.paused_at
    return locked


@transaction.atomic
def enrollment_stop(
    *, enrollment: Enrollment, actor: Any = None, reason: str = Enrollment.StopReason.MANUAL, note: str = ""
) -> bool:
    """Stop a running enrollment and cancel its scheduled messages. Returns False if it was not running."""
    if reason not in Enrollment.StopReason.values:
        raise EnrollmentError(f"Unknown stop reason {reason!r}.")
    now = timezone.now()
    if not Enrollment.objects.filter(pk=enrollment.pk, status__in=RUNNING).update(
        status=Enrollment.Status.STOPPED, stop_reason=reason, stopped_at=now
    ):
        return False
    label = Enrollment.StopReason(reason).label
    _cancel_scheduled(enrollment, f"Sequence stopped: {label}.")
    enrollment.status, enrollment.stop_reason, enrollment.stopped_at = Enrollment.Status.STOPPED, reason, now
    activity_record(
        opportunity=enrollment.opportunity,
        kind=Activity.Kind.STOPPED,
        actor=actor,
        body=f"{label}. {note}".strip(),
        data={"reason": reason, "enrollment": enrollment.pk},
        occurred_at=now,
    )
    return True


def enrollment_stop_for_opportunity(
    *, opportunity: Opportunity, reason: str, actor: Any = None, note: str = ""
) -> Enrollment | None:
    """Stop the opportunity's running enrollment, if any (refinance initiated, borrower engaged, …)."""
    enrollment = Enrollment.objects.filter(opportunity=opportunity, status__in=RUNNING).first()
    if enrollment is None:
        return None
    return enrollment if enrollment_stop(enrollment=enrollment, actor=actor, reason=reason, note=note) else None


def enrollments_complete_finished(*, enrollment_ids: set[int] | list[int]) -> int:
    """Mark active enrollments with nothing left to send as completed."""
    if not enrollment_ids:
        return 0
    pending = Message.objects.filter(
        enrollment=OuterRef("pk"), status__in=[Message.Status.SCHEDULED, Message.Status.SENDING]
    )
    return (
        Enrollment.objects.filter(pk__in=list(enrollment_ids), status=Enrollment.Status.ACTIVE)
        .exclude(Exists(pending))
        .update(status=Enrollment.Status.COMPLETED, stopped_at=timezone.now())
    )
