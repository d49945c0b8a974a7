"""What happens after a message leaves: provider events on it (exactly one timeline entry each) and the
borrower engaging (reply, click on the tracked link, booking), which pauses the sequence (the loan officer
resumes it where it left off, or closes it), moves the opportunity forward, flags it on the board and tells
the loan officer. Only an application (a refinance initiated) ends it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from outreach.models import Enrollment, Message
from outreach.services.enrollments import enrollment_pause_for_opportunity
from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import activity_record, opportunity_change_stage

logger = logging.getLogger(__name__)

# Open stages in pipeline order: engagement only ever moves an opportunity forward.
STAGE_RANK = {stage: rank for rank, stage in enumerate(Opportunity.OPEN_STAGES)}

ENGAGEMENTS: dict[str, tuple[str, str, str]] = {
    # activity kind: (stop reason, stage to move to, attention text)
    Activity.Kind.REPLIED: (Enrollment.StopReason.REPLIED, Opportunity.Stage.ENGAGED, "Borrower replied"),
    Activity.Kind.CLICKED: (
        Enrollment.StopReason.CLICKED,
        Opportunity.Stage.ENGAGED,
        "Borrower clicked to book a call",
    ),
    Activity.Kind.BOOKED: (Enrollment.StopReason.BOOKED, Opportunity.Stage.APPOINTMENT, "Borrower asked for a call"),
}

MESSAGE_EVENTS = {
    Activity.Kind.SENT,
    Activity.Kind.DELIVERED,
    Activity.Kind.OPENED,
    Activity.Kind.CLICKED,
    Activity.Kind.BOUNCED,
    Activity.Kind.FAILED,
}
EVIDENCE_OF_SENDING = {Activity.Kind.SENT, Activity.Kind.DELIVERED, Activity.Kind.OPENED, Activity.Kind.CLICKED}


def opportunity_advance(*, opportunity: Opportunity, stage: str, note: str = "") -> bool:
    """Move an open opportunity forward to ``stage`` (never backwards, never out of a closed stage)."""
    current = Opportunity.objects.filter(pk=opportunity.pk).values_list("stage", flat=True).first()
    if current not in STAGE_RANK or STAGE_RANK[current] >= STAGE_RANK[stage]:
        return False
    opportunity_change_stage(opportunity=opportunity, stage=stage, note=note, source="outreach")
    return True


@transaction.atomic
def opportunities_mark_contacted(*, opportunity_ids: set[int] | list[int], at: dt.datetime) -> int:
    """New → Contacted for opportunities that just got their first message: the set-based twin of
    ``opportunity_change_stage`` for the dispatcher (same timeline entry: stage_change, source "outreach")."""
    rows = list(
        Opportunity.objects.select_for_update()
        .filter(pk__in=list(opportunity_ids), stage=Opportunity.Stage.NEW)
        .values_list("pk", "organization_id", "borrower_id")
    )
    if not rows:
        return 0
    Opportunity.objects.filter(pk__in=[pk for pk, _, _ in rows], stage=Opportunity.Stage.NEW).update(
        stage=Opportunity.Stage.CONTACTED, stage_changed_at=at, updated_at=at
    )
    Activity.objects.bulk_create(
        [
            Activity(
                organization_id=org_id,
                opportunity_id=pk,
                borrower_id=borrower_id,
                kind=Activity.Kind.STAGE_CHANGE,
                from_stage=Opportunity.Stage.NEW,
                to_stage=Opportunity.Stage.CONTACTED,
                body="First outreach message sent.",
                data={"source": "outreach"},
                occurred_at=at,
            )
            for pk, org_id, borrower_id in rows
        ]
    )
    return len(rows)


def opportunity_flag_attention(*, opportunity: Opportunity, reason: str, when: dt.datetime) -> None:
    Opportunity.objects.filter(pk=opportunity.pk).update(
        attention_reason=reason[:200], attention_at=when, updated_at=when
    )
    opportunity.attention_reason, opportunity.attention_at = reason[:200], when


def officer_notify(*, opportunity: Opportunity, subject: str, text: str) -> None:
    """Email the loan officer after the transaction commits; a mail failure never undoes the event."""
    officer = opportunity.loan_officer
    if officer is None or not officer.email:
        return
    link = f"{settings.PUBLIC_BASE_URL}{reverse('pipeline:opportunity_detail', args=[opportunity.pk])}"
    body = (
        f"{text}\n\nOpen the opportunity: {link}\n\nThe outreach sequence for this borrower is paused: resume it "
        "where it left off, or close it, from the opportunity page.\n"
    )

    def deliver() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [officer.email])
        except Exception:  # the event is recorded; the notification is best effort and logged
            logger.exception("Could not notify loan officer %s about opportunity %s", officer.pk, opportunity.pk)

    transaction.on_commit(deliver)


@transaction.atomic
def engagement_record(
    *,
    opportunity: Opportunity,
    kind: str,
    channel: str = "",
    message: Message | None = None,
    body: str = "",
    data: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
    record_activity: bool = True,
) -> None:
    """A stop condition: the borrower replied, clicked the tracked link, or booked a call."""
    stop_reason, stage, attention = ENGAGEMENTS[kind]
    when = occurred_at or timezone.now()
    if record_activity:
        activity_record(
            opportunity=opportunity,
            kind=kind,
            channel=channel,
            message=message,
            body=body[:5000],
            data=data or {},
            occurred_at=when,
        )
    label = Enrollment.StopReason(stop_reason).label
    enrollment_pause_for_opportunity(
        opportunity=opportunity, reason=f"{label}: paused for the loan officer.", engagement=stop_reason
    )
    opportunity_advance(opportunity=opportunity, stage=stage, note=attention)
    opportunity_flag_attention(opportunity=opportunity, reason=attention, when=timezone.now())
    borrower = opportunity.borrower
    excerpt = f"\n\n“{body[:500]}”" if body else ""
    officer_notify(
        opportunity=opportunity,
        subject=f"{attention}: {borrower.full_name} (loan {opportunity.loan.loan_number})",
        text=f"{attention} — {borrower.full_name}.{excerpt}",
    )


@transaction.atomic
def reply_record_without_opportunity(
    *, message: Message, channel: str, body: str = "", data: dict[str, Any] | None = None, when: dt.datetime
) -> Activity:
    """A reply to a message about no opportunity (an LOS application's lock alert or status update): the reply
    on the organization's timeline and the loan officer told; there is no sequence to pause, no stage to move."""
    activity = activity_record(
        opportunity=None, kind=Activity.Kind.REPLIED, channel=channel, message=message, body=body[:5000],
        data=data or {}, occurred_at=when,
    )  # fmt: skip
    officer = message.loan_officer
    borrower = message.borrower
    if officer is not None and officer.email:
        subject = f"Borrower replied: {borrower.full_name} ({message.get_kind_display().lower()})"
        text = f"{borrower.full_name} replied to “{message.subject or message.get_kind_display()}”.\n\n{body[:2000]}\n"

        def deliver() -> None:
            try:
                send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [officer.email])
            except Exception:  # the reply is recorded; the notification is best effort and logged
                logger.exception("Could not notify loan officer %s about message %s", officer.pk, message.pk)

        transaction.on_commit(deliver)
    return activity


@transaction.atomic
def message_record_event(
    *,
    message: Message,
    kind: str,
    occurred_at: dt.datetime | None = None,
    data: dict[str, Any] | None = None,
    error_code: str = "",
    error_message: str = "",
) -> Activity | None:
    """Record a provider event on a message once: a replayed or out-of-order event changes nothing.

    ``sent``/``delivered``/``opened``/``clicked`` set their timestamp only when it is empty. A status never
    moves backwards; the precedence is sending < sent < failed < delivered: a delivery report is the
    provider's proof that the borrower got the message, so ``bounced``/``failed`` after it change nothing, and
    ``delivered`` after a failure report (callbacks arrive out of order) makes the message delivered. So a
    failed message never has ``delivered_at``. Returns the timeline entry, or None if nothing changed.
    """
    if kind not in MESSAGE_EVENTS:
        raise ValueError(f"Unknown message event {kind!r}.")
    when = occurred_at or timezone.now()
    qs = Message.objects.filter(pk=message.pk)
    if kind in EVIDENCE_OF_SENDING and kind != Activity.Kind.SENT and message.sent_at is None:
        # The provider saw it, so it was sent (e.g. a row left unconfirmed by a crashed worker).
        message_record_event(message=message, kind=Activity.Kind.SENT, occurred_at=when, data={"inferred_from": kind})
    changed = 0
    if kind == Activity.Kind.SENT:
        changed = qs.filter(sent_at__isnull=True).update(
            sent_at=when, status=Message.Status.SENT, error_code="", error_message="", hold_reason="", updated_at=when
        )
        if changed and message.opportunity_id is not None:
            Opportunity.objects.filter(pk=message.opportunity_id).update(last_contacted_at=when)
    elif kind == Activity.Kind.DELIVERED:
        changed = qs.filter(delivered_at__isnull=True).update(
            delivered_at=when,
            status=Case(
                When(
                    status__in=[Message.Status.SENT, Message.Status.SENDING, Message.Status.FAILED],
                    then=Value(Message.Status.DELIVERED),
                ),
                default=F("status"),
            ),
            error_code=Case(
                When(status=Message.Status.FAILED, then=Value("")),
                default=F("error_code"),
                output_field=Message._meta.get_field("error_code"),
            ),
            error_message=Case(
                When(status=Message.Status.FAILED, then=Value("")),
                default=F("error_message"),
                output_field=Message._meta.get_field("error_message"),
            ),
            updated_at=when,
        )
    elif kind == Activity.Kind.OPENED:
        changed = qs.filter(opened_at__isnull=True).update(opened_at=when, updated_at=when)
    elif kind == Activity.Kind.CLICKED:
        changed = qs.filter(clicked_at__isnull=True).update(clicked_at=when, updated_at=when)
    else:  # bounced / failed
        changed = qs.filter(~Q(status__in=[Message.Status.FAILED, Message.Status.DELIVERED]), delivered_at=None).update(
            status=Message.Status.FAILED,
            error_code=error_code[:20],
            error_message=error_message,
            hold_reason="",
            updated_at=when,
        )
    if not changed:
        return None
    message.refresh_from_db()
    body = error_message if kind in (Activity.Kind.BOUNCED, Activity.Kind.FAILED) else ""
    return activity_record(
        opportunity=message.opportunity,
        kind=kind,
        channel=message.channel,
        message=message,
        body=body,
        data={**(data or {}), **({"error_code": error_code} if error_code else {})},
        occurred_at=when,
    )
