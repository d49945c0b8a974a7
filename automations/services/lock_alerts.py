"""Rate-lock expiry alerts: ``lock_alert_days`` before a lock expires (the organization's days), one email to the
borrower and one notification to the loan officer per lock.

Applications with a lock: refinances initiated here (``RefinanceTransaction.rate_lock_expiration``, while
initiated or approved) and the LOS's active loans (``los.Application.lock_expiration``, unless the milestone
says withdrawn, cancelled, denied, funded or closed). The send key ``lock:<refinance|los>:<id>:<expiration>``
makes it once per lock: an extension or a re-lock is a new expiration, so a new alert.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from automations.rendering import Subject, lock_alert_render, officer_lock_text
from automations.services.outbox import (
    Outgoing,
    existing_keys,
    message_queue,
    notification_record,
    notifications_send_pending,
)
from core.choices import Channel
from core.formatting import date_text
from core.models import LoanOfficer, Organization
from loans.models import Borrower
from los.models import Application
from outreach.models import Message
from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import activity_record
from refinance.models import RefinanceTransaction

# LOS milestones after which a lock no longer matters (matched case-insensitively inside the name).
CLOSED_MILESTONE_WORDS = ("withdraw", "cancel", "denied", "declined", "funded", "closed", "purchased")


@dataclass(frozen=True)
class Lock:
    source: str  # "refinance" or "los"
    pk: int
    expiration: dt.date
    borrower: Borrower
    officer: LoanOfficer | None
    opportunity: Opportunity | None
    loan_number: str

    @property
    def key(self) -> str:
        return f"lock:{self.source}:{self.pk}:{self.expiration.isoformat()}"


def local_today(organization: Organization, now: dt.datetime | None) -> dt.date:
    return now.astimezone(organization.zone).date() if now is not None else organization.today()


def los_open_milestone() -> Q:
    closed = Q()
    for word in CLOSED_MILESTONE_WORDS:
        closed |= Q(milestone__icontains=word)
    return ~closed


def locks_due(*, organization: Organization, today: dt.date) -> list[Lock]:
    """Every lock expiring between today and ``lock_alert_days`` from today (a missed day still alerts)."""
    horizon = today + dt.timedelta(days=organization.lock_alert_days)
    locks: list[Lock] = []
    refinances = (
        RefinanceTransaction.objects.filter(
            organization=organization,
            status__in=RefinanceTransaction.IN_PROGRESS,
            rate_lock_expiration__gte=today,
            rate_lock_expiration__lte=horizon,
        )
        .select_related("existing_loan__borrower", "existing_loan__loan_officer", "opportunity__loan_officer")
        .order_by("rate_lock_expiration", "pk")
    )
    for refinance in refinances:
        loan = refinance.existing_loan
        opportunity = refinance.opportunity
        officer = (opportunity.loan_officer if opportunity is not None else None) or loan.loan_officer
        locks.append(
            Lock("refinance", refinance.pk, refinance.rate_lock_expiration, loan.borrower, officer, opportunity,
                 refinance.new_loan.loan_number if refinance.new_loan_id else loan.loan_number)
        )  # fmt: skip
    applications = (
        Application.objects.filter(
            organization=organization,
            status=Application.Status.ACTIVE,
            borrower__isnull=False,
            lock_expiration__gte=today,
            lock_expiration__lte=horizon,
        )
        .filter(los_open_milestone())
        .select_related("borrower", "loan_officer")
        .order_by("lock_expiration", "pk")
    )
    for application in applications:
        locks.append(
            Lock("los", application.pk, application.lock_expiration, application.borrower, application.loan_officer,
                 None, application.loan_number or application.loan_guid)
        )  # fmt: skip
    return locks


def _officer_link(lock: Lock) -> str:
    if lock.opportunity is None:
        return ""
    return f"{settings.PUBLIC_BASE_URL}{reverse('pipeline:opportunity_detail', args=[lock.opportunity.pk])}"


def lock_alert_queue(*, organization: Organization, lock: Lock, today: dt.date, now: dt.datetime) -> Message | None:
    """The borrower's alert, the officer's notification and the opportunity's timeline entry, together."""
    officer = lock.officer
    if officer is None:  # nobody to send it in the name of (an LOS officer not matched to a staff profile)
        return None
    subject = Subject(borrower=lock.borrower, officer=officer, organization=organization, loan_number=lock.loan_number)
    with transaction.atomic():
        message = message_queue(
            outgoing=Outgoing(
                organization=organization,
                kind=Message.Kind.LOCK_ALERT,
                send_key=lock.key,
                borrower=lock.borrower,
                officer=officer,
                opportunity=lock.opportunity,
                channel=Channel.EMAIL,
                render=partial(lock_alert_render, subject=subject, expiration=lock.expiration, today=today),
                timeline=f"Rate-lock expiry alert queued (the lock expires {date_text(lock.expiration)}).",
            ),
            now=now,
        )
        if message is None:
            return None
        title, body = officer_lock_text(subject=subject, expiration=lock.expiration, link=_officer_link(lock))
        notification_record(
            organization=organization, officer=officer, key=lock.key, subject=title, body=body,
            opportunity=lock.opportunity,
        )  # fmt: skip
        if lock.opportunity is not None:
            activity_record(
                opportunity=lock.opportunity,
                kind=Activity.Kind.NOTE,
                body=f"Rate lock expires {date_text(lock.expiration)}: borrower alerted, {officer.display_name} "
                "notified.",
                data={"automation": "lock_alert", "expiration": lock.expiration.isoformat()},
                occurred_at=now,
            )
    return message


def lock_alerts_run(*, organization: Organization, now: dt.datetime | None = None) -> int:
    """Queue the alerts due today in the organization's zone; returns how many were queued (0 on a rerun)."""
    now = now or timezone.now()
    today = local_today(organization, now)
    locks = locks_due(organization=organization, today=today)
    done = existing_keys(organization=organization, keys=[lock.key for lock in locks])
    queued = 0
    for lock in locks:
        if lock.key not in done and lock_alert_queue(organization=organization, lock=lock, today=today, now=now):
            queued += 1
    notifications_send_pending(organization=organization, now=now)
    return queued
