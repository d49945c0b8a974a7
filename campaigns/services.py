"""Every write of a campaign: create and edit a draft, send it (approve, then queue one email per recipient
borrower through the outbox), and ``campaigns_run`` — the automation entry point that finishes the queueing of
approved campaigns (``run_automations --only campaigns``).

Sending is idempotent: the campaign row is locked while its emails are queued, a sent campaign queues nothing,
and each email's send key ``campaign:<campaign>:<borrower>`` is unique in the organization's outbox, so pressing
Send twice, two workers, or a rerun after a crash never queue a borrower twice. The emails are rendered here
(subject, text, HTML with the tracked links of their own message id) and sent by the outbox dispatcher with its
consent, quiet-hour and officer checks.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.selectors import FiltersInvalid, campaign_messages, campaign_recipients, filterset_for, render_for
from core.choices import Channel
from core.models import LoanOfficer, Organization
from core.tenancy import profile_for
from outreach.models import Message
from outreach.rendering import links_for
from pipeline.models import Activity, Opportunity

logger = logging.getLogger(__name__)

CHUNK = 500


class CampaignNotEditable(ValueError):
    pass


def campaign_create(
    *, user: Any, name: str, subject_template: str, body_template: str, filters: str, filters_summary: str = ""
) -> Campaign:
    """A draft in the manager's scope (an org admin's: the organization; a branch manager's: their branch)."""
    profile = profile_for(user)
    if profile is None or not profile.is_manager:
        raise PermissionError("Only managers create campaigns.")
    return Campaign.objects.create(
        organization=profile.organization,
        branch=profile.branch if profile.role == LoanOfficer.Role.BRANCH_MANAGER else None,
        name=name,
        subject_template=subject_template,
        body_template=body_template,
        filters=filters,
        filters_summary=filters_summary[:500],
        created_by=user,
    )


def campaign_update(*, campaign: Campaign, name: str, subject_template: str, body_template: str) -> Campaign:
    """Edit a draft (a conditional UPDATE: a campaign sent meanwhile is not changed)."""
    changed = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.DRAFT).update(
        name=name, subject_template=subject_template, body_template=body_template, updated_at=timezone.now()
    )
    if not changed:
        raise CampaignNotEditable("This campaign has been sent; it can no longer be edited.")
    campaign.name, campaign.subject_template, campaign.body_template = name, subject_template, body_template
    return campaign


def campaign_send(*, campaign: Campaign, user: Any, now: dt.datetime | None = None) -> int:
    """Approve a draft (``user`` becomes its approver) and queue its emails; returns how many were queued now
    (0 when it was already sent, by this or another request)."""
    now = now or timezone.now()
    filterset = filterset_for(user=user, filters=campaign.filters)
    if not filterset.is_valid():
        raise FiltersInvalid({k: list(v) for k, v in filterset.errors.items()})
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.DRAFT).update(
        status=Campaign.Status.SENDING, approved_by=user, approved_at=now, updated_at=now
    )
    return campaign_queue(campaign=campaign, now=now)


def campaign_queue(*, campaign: Campaign, now: dt.datetime | None = None) -> int:
    """Queue one email per recipient borrower of an approved campaign, in one transaction that holds the
    campaign's row: a second caller waits, then finds it sent. The recipients are computed now, from the
    approver's view of the board."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if locked is None or locked.status != Campaign.Status.SENDING:
            return 0
        profile = profile_for(locked.approved_by)
        try:
            if profile is None or not profile.is_manager:
                raise PermissionError("its approver is no longer an active manager")
            recipients = campaign_recipients(campaign=locked, user=locked.approved_by)
        except (FiltersInvalid, PermissionError) as exc:
            # Back to draft (nothing of it was queued in this transaction): a manager checks and sends again.
            logger.warning("Campaign %s not queued, back to draft: %s", locked.pk, exc)
            Campaign.objects.filter(pk=locked.pk).update(
                status=Campaign.Status.DRAFT, approved_by=None, approved_at=None, updated_at=now
            )
            campaign.status = Campaign.Status.DRAFT
            return 0
        already = campaign_messages(locked).values("borrower_id")
        recipients = (
            recipients.exclude(borrower_id__in=already)
            .select_related("borrower", "loan", "loan_officer", "organization")
            .order_by("pk")
        )
        queued = _queue_all(locked, recipients, now=now)
        locked.status = Campaign.Status.SENT
        locked.sent_at = now
        locked.recipient_count = campaign_messages(locked).count()
        locked.save(update_fields=["status", "sent_at", "recipient_count", "updated_at"])
    campaign.status, campaign.sent_at, campaign.recipient_count = locked.status, now, locked.recipient_count
    return queued


def _queue_all(campaign: Campaign, recipients: QuerySet[Opportunity], *, now: dt.datetime) -> int:
    queued = 0
    chunk: list[Opportunity] = []
    for opportunity in recipients.iterator(chunk_size=CHUNK):
        chunk.append(opportunity)
        if len(chunk) == CHUNK:
            queued += _queue_chunk(campaign, chunk, now=now)
            chunk = []
    if chunk:
        queued += _queue_chunk(campaign, chunk, now=now)
    return queued


def _queue_chunk(campaign: Campaign, chunk: list[Opportunity], *, now: dt.datetime) -> int:
    """Insert the chunk's outbox rows, render each with the tracked links of its own id, store the rendering and
    write the timeline's "queued" entries: four statements per chunk."""
    messages = Message.objects.bulk_create(
        [
            Message(
                organization_id=campaign.organization_id,
                kind=Message.Kind.CAMPAIGN,
                send_key=campaign.send_key(o.borrower_id),
                opportunity=o,
                borrower_id=o.borrower_id,
                channel=Channel.EMAIL,
                status=Message.Status.SCHEDULED,
                due_at=now,
            )
            for o in chunk
        ]
    )
    for message, opportunity in zip(messages, chunk, strict=True):
        links = links_for(opportunity_id=opportunity.pk, borrower_id=opportunity.borrower_id, message_id=message.pk)
        rendered = render_for(
            opportunity=opportunity,
            subject_template=campaign.subject_template,
            body_template=campaign.body_template,
            links=links,
        )
        message.subject, message.body, message.body_html = rendered.subject[:250], rendered.text, rendered.html
    Message.objects.bulk_update(messages, ["subject", "body", "body_html"], batch_size=CHUNK)
    Activity.objects.bulk_create(
        [
            Activity(
                organization_id=m.organization_id,
                opportunity_id=m.opportunity_id,
                borrower_id=m.borrower_id,
                kind=Activity.Kind.QUEUED,
                channel=Channel.EMAIL,
                message_id=m.pk,
                body=f"Campaign “{campaign.name}” queued.",
                data={"subject": m.subject, "campaign": campaign.pk},
                occurred_at=now,
            )
            for m in messages
        ]
    )
    return len(messages)


def campaigns_run(*, organization: Organization, now: dt.datetime | None = None) -> int:
    """Queue the emails of the organization's approved campaigns whose queueing has not finished (a request
    that died after Send); idempotent: a second run queues nothing. Returns the number of emails queued."""
    now = now or timezone.now()
    pending = Campaign.objects.filter(organization=organization, status=Campaign.Status.SENDING).order_by("pk")
    return sum(campaign_queue(campaign=campaign, now=now) for campaign in pending)
