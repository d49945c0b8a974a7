"""Queueing a pre-rendered outbox row once per send key, and a loan officer's notification once per key.

Both are idempotent by a unique constraint: the row is inserted in a savepoint and an IntegrityError means an
earlier run (or a concurrent worker) already queued it, so two runs never double-queue and never double-send.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from automations.models import OfficerNotification
from core.models import LoanOfficer, Organization
from loans.models import Borrower
from outreach.models import Message
from outreach.rendering import Rendered, links_for
from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import activity_record

logger = logging.getLogger(__name__)

NOTIFY_MAX_ATTEMPTS = 5
NOTIFY_CLAIM_TIMEOUT = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Outgoing:
    """One borrower message to queue: who, from whom, about what, and how to render it once its id is known."""

    organization: Organization
    kind: str
    send_key: str
    borrower: Borrower
    officer: LoanOfficer
    opportunity: Opportunity | None
    channel: str
    render: Callable[..., Rendered]  # called with links=…
    timeline: str


def existing_keys(*, organization: Organization, keys: list[str]) -> set[str]:
    """The send keys already in the outbox (one query; the unique constraint still decides)."""
    if not keys:
        return set()
    return set(Message.objects.filter(organization=organization, send_key__in=keys).values_list("send_key", flat=True))


def message_queue(*, outgoing: Outgoing, now: dt.datetime) -> Message | None:
    """Insert, render and record one pre-rendered message; None when its send key is already queued.

    Runs in the caller's transaction (a savepoint): the message, its rendering and its "queued" timeline entry
    commit together."""
    try:
        with transaction.atomic():
            message = Message.objects.create(
                organization=outgoing.organization,
                kind=outgoing.kind,
                send_key=outgoing.send_key[:120],
                opportunity=outgoing.opportunity,
                loan_officer=outgoing.officer,
                borrower=outgoing.borrower,
                channel=outgoing.channel,
                status=Message.Status.SCHEDULED,
                due_at=now,
            )
    except IntegrityError:
        return None
    links = links_for(opportunity_id=message.opportunity_id, borrower_id=outgoing.borrower.pk, message_id=message.pk)
    rendered = outgoing.render(links=links)
    message.subject, message.body, message.body_html = rendered.subject[:250], rendered.text, rendered.html
    message.save(update_fields=["subject", "body", "body_html", "updated_at"])
    activity_record(
        opportunity=outgoing.opportunity,
        kind=Activity.Kind.QUEUED,
        channel=outgoing.channel,
        message=message,
        body=outgoing.timeline,
        data={"automation": outgoing.kind},
        occurred_at=now,
        organization_id=outgoing.organization.pk,
        borrower_id=outgoing.borrower.pk,
    )
    return message


def notification_record(
    *,
    organization: Organization,
    officer: LoanOfficer,
    key: str,
    subject: str,
    body: str,
    opportunity: Opportunity | None = None,
) -> OfficerNotification | None:
    """Record the officer's notification (once per key); ``notifications_send_pending`` sends it once the
    run's writes are committed (a rolled-back alert never notifies)."""
    if not officer.email:
        return None
    try:
        with transaction.atomic():
            notification = OfficerNotification.objects.create(
                organization=organization,
                loan_officer=officer,
                opportunity=opportunity,
                key=key[:120],
                to_address=officer.email,
                subject=subject[:250],
                body=body,
            )
    except IntegrityError:
        return None
    return notification


def notification_send(*, notification_id: int, now: dt.datetime | None = None) -> bool:
    """Send one notification if nobody else is sending or has sent it (a conditional claim), then record it."""
    now = now or timezone.now()
    claimable = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - NOTIFY_CLAIM_TIMEOUT)
    claimed = OfficerNotification.objects.filter(
        claimable, pk=notification_id, sent_at__isnull=True, attempts__lt=NOTIFY_MAX_ATTEMPTS
    ).update(claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return False
    notification = OfficerNotification.objects.get(pk=notification_id)
    try:
        send_mail(notification.subject, notification.body, settings.DEFAULT_FROM_EMAIL, [notification.to_address])
    except Exception as exc:  # recorded; the next run retries it
        logger.exception("Officer notification %s could not be sent", notification_id)
        OfficerNotification.objects.filter(pk=notification_id).update(
            claimed_at=None, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        return False
    OfficerNotification.objects.filter(pk=notification_id).update(sent_at=timezone.now(), error="")
    return True


def notifications_send_pending(*, organization: Organization, now: dt.datetime | None = None) -> int:
    """Send the organization's notifications not sent yet: the run's new ones, and earlier ones a mail error or a
    stopped worker left unsent (each claimed, so two runs never send one twice)."""
    now = now or timezone.now()
    pending = OfficerNotification.objects.filter(
        organization=organization, sent_at__isnull=True, attempts__lt=NOTIFY_MAX_ATTEMPTS
    ).values_list("pk", flat=True)
    return sum(1 for pk in list(pending) if notification_send(notification_id=pk, now=now))
