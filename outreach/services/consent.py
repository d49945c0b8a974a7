"""Consent changes that outreach causes: opt-outs (STOP, unsubscribe link, complaints), opt-ins (START) and
numbers/addresses a provider reports as permanently undeliverable.

Each change is a conditional UPDATE on the borrower (so a replayed event changes nothing twice), one
ConsentEvent row in the append-only ledger, one timeline entry, and the cancellation of that channel's
scheduled messages.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.choices import Channel
from loans.models import Borrower, ConsentEvent
from outreach.models import Enrollment, Message
from outreach.services.enrollments import RUNNING, enrollment_stop
from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import activity_record

OPT_OUT_FIELD = {Channel.EMAIL: "email_opted_out_at", Channel.SMS: "sms_opted_out_at"}
UNDELIVERABLE_FIELD = {Channel.EMAIL: "email_undeliverable_reason", Channel.SMS: "sms_undeliverable_reason"}


def _consent_event(
    *, borrower: Borrower, channel: str, action: str, source: str, detail: dict | None, actor: Any
) -> None:
    event = ConsentEvent(
        organization_id=borrower.organization_id,
        borrower=borrower,
        channel=channel,
        action=action,
        source=source[:200],
        detail=detail or {},
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    event.full_clean(exclude=["borrower", "organization", "created_by"])
    event.save()


def _latest_opportunity(borrower: Borrower, channel: str) -> Opportunity | None:
    """The opportunity this borrower was most recently messaged about on ``channel`` (else any open one)."""
    message = (
        Message.objects.filter(borrower=borrower, channel=channel, opportunity__isnull=False)
        .exclude(sent_at=None)
        .select_related("opportunity")
        .order_by("-sent_at")
        .first()
    )
    if message is not None:
        return message.opportunity
    return Opportunity.objects.open().filter(borrower=borrower).order_by("-pk").first()


def channel_cancel_scheduled(*, borrower: Borrower, channel: str, reason: str) -> int:
    """Cancel the borrower's scheduled messages on one channel; stop enrollments left with nothing to send."""
    affected = set(
        Message.objects.filter(borrower=borrower, channel=channel, status=Message.Status.SCHEDULED).values_list(
            "enrollment_id", flat=True
        )
    )
    cancelled = Message.objects.filter(borrower=borrower, channel=channel, status=Message.Status.SCHEDULED).update(
        status=Message.Status.CANCELLED, hold_reason="", error_message=reason, updated_at=timezone.now()
    )
    if affected:
        pending = Message.objects.filter(
            enrollment=OuterRef("pk"), status__in=[Message.Status.SCHEDULED, Message.Status.SENDING]
        )
        for enrollment in Enrollment.objects.filter(pk__in=affected, status__in=RUNNING).exclude(Exists(pending)):
            enrollment_stop(enrollment=enrollment, reason=Enrollment.StopReason.OPTED_OUT, note=reason)
    return cancelled


@transaction.atomic
def borrower_opt_out(
    *,
    borrower: Borrower,
    channel: str,
    source: str,
    detail: dict | None = None,
    actor: Any = None,
    opportunity: Opportunity | None = None,
    message: Message | None = None,
) -> bool:
    """Record an opt-out on ``channel``. Returns False when the borrower had already opted out (replay)."""
    now = timezone.now()
    field = OPT_OUT_FIELD[channel]
    if not Borrower.objects.filter(pk=borrower.pk, **{f"{field}__isnull": True}).update(
        **{field: now, "updated_at": now}
    ):
        return False
    setattr(borrower, field, now)
    _consent_event(
        borrower=borrower,
        channel=channel,
        action=ConsentEvent.Action.REVOKED,
        source=source,
        detail=detail,
        actor=actor,
    )
    opportunity = opportunity or (message.opportunity if message else None) or _latest_opportunity(borrower, channel)
    if opportunity is not None:
        activity_record(
            opportunity=opportunity,
            kind=Activity.Kind.OPTED_OUT,
            channel=channel,
            message=message,
            actor=actor,
            body=f"Opted out of {Channel(channel).label.lower()} ({source}).",
            data=detail or {},
            occurred_at=now,
        )
    channel_cancel_scheduled(borrower=borrower, channel=channel, reason=f"Borrower opted out ({source}).")
    return True


@transaction.atomic
def borrower_do_not_contact(*, borrower: Borrower, source: str, actor: Any = None) -> bool:
    """Never contact this borrower again on any channel (a request by phone, a complaint). Returns False when the
    flag was already set."""
    now = timezone.now()
    if not Borrower.objects.filter(pk=borrower.pk, do_not_contact=False).update(do_not_contact=True, updated_at=now):
        return False
    borrower.do_not_contact = True
    _consent_event(
        borrower=borrower, channel="", action=ConsentEvent.Action.DO_NOT_CONTACT, source=source, detail={}, actor=actor
    )
    for channel in (Channel.EMAIL, Channel.SMS):
        channel_cancel_scheduled(borrower=borrower, channel=channel, reason=f"Do not contact ({source}).")
    return True


@transaction.atomic
def borrower_opt_in(
    *, borrower: Borrower, channel: str, source: str, detail: dict | None = None, actor: Any = None
) -> bool:
    """Undo an opt-out (START / UNSTOP / YES by SMS). Returns False when the borrower was not opted out."""
    field = OPT_OUT_FIELD[channel]
    updated = {field: None, "updated_at": timezone.now()}
    if not Borrower.objects.filter(pk=borrower.pk, **{f"{field}__isnull": False}).update(**updated):
        return False
    setattr(borrower, field, None)
    _consent_event(
        borrower=borrower,
        channel=channel,
        action=ConsentEvent.Action.RESTORED,
        source=source,
        detail=detail,
        actor=actor,
    )
    opportunity = _latest_opportunity(borrower, channel)
    if opportunity is not None:
        activity_record(
            opportunity=opportunity,
            kind=Activity.Kind.OPTED_IN,
            channel=channel,
            actor=actor,
            body=f"Opted back in to {Channel(channel).label.lower()} ({source}).",
            data=detail or {},
        )
    return True


@transaction.atomic
def borrower_mark_undeliverable(
    *, borrower: Borrower, channel: str, reason: str, source: str, detail: dict | None = None
) -> bool:
    """A provider said this address/number can never receive our messages (hard bounce, 21211, 21614)."""
    field = UNDELIVERABLE_FIELD[channel]
    if not Borrower.objects.filter(pk=borrower.pk, **{field: ""}).update(
        **{field: reason[:200], "updated_at": timezone.now()}
    ):
        return False
    setattr(borrower, field, reason[:200])
    _consent_event(
        borrower=borrower,
        channel=channel,
        action=ConsentEvent.Action.UNDELIVERABLE,
        source=source,
        detail={"reason": reason, **(detail or {})},
        actor=None,
    )
    channel_cancel_scheduled(borrower=borrower, channel=channel, reason=f"Undeliverable: {reason}")
    return True
