"""Application status updates: when an application reaches a milestone, the borrower gets the organization's
message for it (``StatusTemplate`` per milestone and channel; none for a milestone left blank or missing).

The changes come from two places: the refinance's own status changes (its ``RefinanceEvent`` audit rows:
initiated, approved, funded, cancelled) and the LOS sync (``los.Application.milestone_changed_at``, written when
a sync sees the milestone change). A run looks back ``LOOKBACK`` for changes, so a missed run catches up and an
old change is never announced late; the send key ``status:<refinance|los>:<id>:<milestone>`` (``:sms`` for the
text) makes each announcement once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from automations.models import StatusTemplate
from automations.rendering import Subject, status_update_render
from automations.services.outbox import Outgoing, existing_keys, message_queue
from core.choices import Channel
from core.models import LoanOfficer, Organization
from loans.models import Borrower
from los.models import Application
from outreach.models import Message
from outreach.rendering import TemplateError
from pipeline.models import Opportunity
from refinance.models import RefinanceEvent, RefinanceTransaction

LOOKBACK = dt.timedelta(days=3)


@dataclass(frozen=True)
class Change:
    source: str  # "refinance" or "los"
    pk: int
    milestone: str
    borrower: Borrower
    officer: LoanOfficer | None
    opportunity: Opportunity | None
    loan_number: str

    def key(self, channel: str) -> str:
        base = f"status:{self.source}:{self.pk}:{slugify(self.milestone)[:80]}"
        return base if channel == Channel.EMAIL else f"{base}:{channel}"


def templates_for(organization: Organization) -> dict[str, list[StatusTemplate]]:
    """Active templates with a body, by lower-cased milestone."""
    found: dict[str, list[StatusTemplate]] = {}
    for template in StatusTemplate.objects.filter(organization=organization, is_active=True).exclude(body=""):
        if template.body.strip():
            found.setdefault(template.milestone.strip().lower(), []).append(template)
    return found


def changes_since(*, organization: Organization, since: dt.datetime) -> list[Change]:
    changes: list[Change] = []
    events = (
        RefinanceEvent.objects.filter(transaction__organization=organization, created_at__gte=since)
        .select_related(
            "transaction__existing_loan__borrower",
            "transaction__existing_loan__loan_officer",
            "transaction__opportunity__loan_officer",
            "transaction__new_loan",
        )
        .order_by("created_at", "pk")
    )
    for event in events:
        refinance = event.transaction
        loan, opportunity = refinance.existing_loan, refinance.opportunity
        officer = (opportunity.loan_officer if opportunity is not None else None) or loan.loan_officer
        milestone = RefinanceTransaction.Status(event.to_status).label
        number = refinance.new_loan.loan_number if refinance.new_loan_id else loan.loan_number
        changes.append(Change("refinance", refinance.pk, milestone, loan.borrower, officer, opportunity, number))
    applications = (
        Application.objects.filter(organization=organization, milestone_changed_at__gte=since, borrower__isnull=False)
        .exclude(milestone="")
        .select_related("borrower", "loan_officer")
        .order_by("milestone_changed_at", "pk")
    )
    for application in applications:
        changes.append(
            Change("los", application.pk, application.milestone, application.borrower, application.loan_officer,
                   None, application.loan_number or application.loan_guid)
        )  # fmt: skip
    return changes


def status_updates_run(*, organization: Organization, now: dt.datetime | None = None) -> int:
    """Queue the status messages of the milestones reached in the last ``LOOKBACK``; returns how many were
    queued (0 on a rerun)."""
    now = now or timezone.now()
    templates = templates_for(organization)
    if not templates:
        return 0
    wanted = [
        (change, template)
        for change in changes_since(organization=organization, since=now - LOOKBACK)
        for template in templates.get(change.milestone.strip().lower(), [])
    ]
    done = existing_keys(organization=organization, keys=[c.key(t.channel) for c, t in wanted])
    queued = 0
    for change, template in wanted:
        key = change.key(template.channel)
        if key in done or change.officer is None:
            continue
        subject = Subject(
            borrower=change.borrower, officer=change.officer, organization=organization,
            loan_number=change.loan_number, milestone=change.milestone,
        )  # fmt: skip
        render = partial(
            status_update_render,
            subject=subject,
            channel=template.channel,
            subject_template=template.subject,
            body_template=template.body,
        )
        outgoing = Outgoing(
            organization=organization,
            kind=Message.Kind.STATUS_UPDATE,
            send_key=key,
            borrower=change.borrower,
            officer=change.officer,
            opportunity=change.opportunity,
            channel=template.channel,
            render=render,
            timeline=f"Status update ({change.milestone}, {template.get_channel_display()}) queued.",
        )
        try:
            with transaction.atomic():
                if message_queue(outgoing=outgoing, now=now) is not None:
                    queued += 1
        except TemplateError:  # a template that stopped rendering sends nothing (admin refuses new ones)
            continue
    return queued
