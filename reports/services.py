"""Writes: building and sending the weekly report email, exactly once per manager per week."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.models import LoanOfficer, Organization
from reports.models import WeeklyReportSend
from reports.periods import week_period
from reports.report_tables import report_tables
from reports.selectors import report_build

logger = logging.getLogger(__name__)

# A claim older than this whose email was never confirmed sent belongs to a worker that died: take it over.
STALE_CLAIM = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class WeeklyReportEmail:
    to: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class SendOutcome:
    recipient: LoanOfficer
    to: str
    status: str  # sent | skipped (already sent or being sent) | failed | dry_run | dry_run_already_sent
    email: WeeklyReportEmail | None = None
    error: str = ""


def weekly_report_recipients(*, organization: Organization) -> QuerySet[LoanOfficer]:
    """Every active branch manager and org admin of the organization."""
    return (
        LoanOfficer.objects.filter(
            organization=organization,
            is_active=True,
            user__is_active=True,
            role__in=[LoanOfficer.Role.BRANCH_MANAGER, LoanOfficer.Role.ORG_ADMIN],
        )
        .select_related("user", "branch", "organization")
        .order_by("display_name", "pk")
    )


def recipient_address(recipient: LoanOfficer) -> str:
    return recipient.email or recipient.user.email


def report_url(*, start: dt.date, end: dt.date) -> str:
    query = urlencode({"start": start.isoformat(), "end": end.isoformat()})
    return f"{settings.PUBLIC_BASE_URL}{reverse('reports:report')}?{query}"


def weekly_report_build(
    *, recipient: LoanOfficer, week_start: dt.date, now: dt.datetime | None = None
) -> WeeklyReportEmail:
    """The week's report as the recipient may see it (branch managers: their branch; org admins: everything)."""
    organization = recipient.organization
    period = week_period(week_start, timezone=organization.timezone)
    report = report_build(user=recipient.user, period=period, now=now)
    tables = report_tables(report)
    if recipient.role == LoanOfficer.Role.ORG_ADMIN or recipient.branch is None:
        scope = f"all of {organization.name}"
    else:
        scope = f"branch {recipient.branch.name}"
    url = report_url(start=period.start, end=period.end)
    context = {
        "recipient": recipient,
        "organization": organization,
        "report": report,
        "tables": tables,
        "scope": scope,
        "url": url,
        "definitions_url": f"{url}#definitions",
        "text_tables": {key: "\n".join(table.text_lines()) for key, table in tables.items()},
    }
    return WeeklyReportEmail(
        to=recipient_address(recipient),
        subject=f"{organization.name} refinance results, week of {period.label} ({scope})",
        text=render_to_string("reports/email/weekly.txt", context),
        html=render_to_string("reports/email/weekly.html", context),
    )


def _claim(
    *, organization: Organization, week_start: dt.date, recipient: LoanOfficer, resend: bool
) -> WeeklyReportSend | None:
    """Take the (organization, week, recipient) send for this worker, or None when it is done or being done.

    First try to insert the row (the unique constraint lets only one insert win); otherwise take the existing row
    over with a conditional UPDATE when it is free: never sent (a failed attempt released it, or its worker died
    and the claim went stale) — or, with ``resend``, also when it was sent.
    """
    now = timezone.now()
    to = recipient_address(recipient)
    row = WeeklyReportSend(
        organization=organization, week_start=week_start, recipient=recipient, to_email=to, claimed_at=now, attempts=1
    )
    row.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        pass
    else:
        return row
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_CLAIM)
    if resend:
        free |= Q(sent_at__isnull=False)
    else:
        free &= Q(sent_at__isnull=True)
    existing = WeeklyReportSend.objects.filter(organization=organization, week_start=week_start, recipient=recipient)
    if not existing.filter(free).update(claimed_at=now, to_email=to, attempts=F("attempts") + 1, error=""):
        return None
    return existing.get()


def _deliver(email: WeeklyReportEmail) -> None:
    message = EmailMultiAlternatives(
        subject=email.subject, body=email.text, from_email=settings.DEFAULT_FROM_EMAIL, to=[email.to]
    )
    message.attach_alternative(email.html, "text/html")
    message.send()


def weekly_report_send(
    *,
    organization: Organization,
    week_start: dt.date,
    dry_run: bool = False,
    resend: bool = False,
) -> list[SendOutcome]:
    """Send the week's report to every manager of the organization who has not had it yet.

    Safe to call any number of times, from any number of workers: each (organization, week, recipient) is sent
    at most once (``resend`` sends again on purpose). ``dry_run`` builds every email and sends and records nothing.
    """
    recipients = list(weekly_report_recipients(organization=organization))
    already = set(
        WeeklyReportSend.objects.filter(
            organization=organization, week_start=week_start, sent_at__isnull=False
        ).values_list("recipient_id", flat=True)
    )
    outcomes = []
    for recipient in recipients:  # one email per manager: a handful per organization
        to = recipient_address(recipient)
        if dry_run:
            status = "dry_run_already_sent" if recipient.pk in already and not resend else "dry_run"
            email = weekly_report_build(recipient=recipient, week_start=week_start)
            outcomes.append(SendOutcome(recipient=recipient, to=to, status=status, email=email))
            continue
        if recipient.pk in already and not resend:
            outcomes.append(SendOutcome(recipient=recipient, to=to, status="skipped"))
            continue
        claim = _claim(organization=organization, week_start=week_start, recipient=recipient, resend=resend)
        if claim is None:
            outcomes.append(SendOutcome(recipient=recipient, to=to, status="skipped"))
            continue
        try:
            email = weekly_report_build(recipient=recipient, week_start=week_start)
            _deliver(email)
        except Exception as exc:  # release the claim so that the next hourly run retries
            logger.exception("Weekly report to %s (%s, week %s) failed", to, organization.slug, week_start)
            WeeklyReportSend.objects.filter(pk=claim.pk, claimed_at=claim.claimed_at).update(
                claimed_at=None, error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            outcomes.append(SendOutcome(recipient=recipient, to=to, status="failed", error=str(exc)))
            continue
        WeeklyReportSend.objects.filter(pk=claim.pk).update(sent_at=timezone.now(), error="")
        outcomes.append(SendOutcome(recipient=recipient, to=to, status="sent", email=email))
    return outcomes
