from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.choices import Channel, choices_check
from core.formatting import datetime_text
from core.models import Organization
from core.tenancy import TenantQuerySet
from loans.models.portfolio import Borrower
from pipeline.models.matching import Opportunity


class ActivityQuerySet(TenantQuerySet):
    branch_path = "opportunity__branch"
    officer_path = "opportunity__loan_officer"


class ActivityKind(models.TextChoices):
    MATCHED = "matched", "Matched"
    REQUALIFIED = "requalified", "Qualifies again"
    DISQUALIFIED = "disqualified", "No longer qualifies"
    STAGE_CHANGE = "stage_change", "Stage changed"
    NOTE = "note", "Note"
    ENROLLED = "enrolled", "Enrolled in sequence"
    PAUSED = "paused", "Sequence paused"
    RESUMED = "resumed", "Sequence resumed"
    STOPPED = "stopped", "Sequence stopped"
    QUEUED = "queued", "Message queued"
    SENT = "sent", "Message sent"
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    REPLIED = "replied", "Replied"
    BOOKED = "booked", "Call booked"
    BOUNCED = "bounced", "Bounced"
    FAILED = "failed", "Failed"
    OPTED_OUT = "opted_out", "Opted out"
    OPTED_IN = "opted_in", "Opted back in"
    REFINANCE_INITIATED = "refinance_initiated", "Refinance initiated"
    REFINANCE_STATUS = "refinance_status", "Refinance status changed"
    CALL_TASK = "call_task", "Call task"


class Activity(models.Model):
    """One entry on an opportunity's timeline: every stage change, note, message and provider event.

    Append-only. Reports aggregate these rows, so every event that counts is recorded here exactly once
    (outreach events are deduplicated before they are written).
    """

    Kind = ActivityKind

    # No single-column indexes on the organization and the opportunity: the report and timeline indexes lead
    # with them (every index is one more write per entry; the first match writes ~178k entries).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, null=True, blank=True, related_name="activities", db_index=False
    )
    # Denormalised from the opportunity (whose loan FK guarantees the borrower); no database FK, so the match's
    # set-based timeline inserts do not lock one borrower row per entry.
    borrower = models.ForeignKey(
        Borrower, on_delete=models.CASCADE, null=True, blank=True, related_name="activities", db_constraint=False
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    # The outreach message this entry is about (a plain id: the pipeline sits below outreach).
    message_id = models.BigIntegerField(null=True, blank=True)
    # Indexed only where set (pipeline_activity_actor_idx): the match's and the providers' entries have none.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    from_stage = models.CharField(max_length=12, blank=True)
    to_stage = models.CharField(max_length=12, blank=True)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        verbose_name_plural = "activities"
        constraints = [
            choices_check("kind", ActivityKind, "%(app_label)s_%(class)s_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind="stage_change") | (~Q(from_stage="") & ~Q(to_stage="")),
                name="%(app_label)s_%(class)s_stage_change_has_stages",
            ),
        ]
        indexes = [
            # Opportunity page timeline.
            models.Index(fields=["opportunity", "-occurred_at"], name="pipeline_activity_timeline_idx"),
            # Reports: counts by kind over a period inside one organization.
            models.Index(fields=["organization", "kind", "occurred_at"], name="pipeline_activity_report_idx"),
            # A user's entries (on_delete SET_NULL of the actor); entries without an actor are not indexed.
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="pipeline_activity_actor_idx"),
            # Scoring (scoring.features.changed_cte): the entries recorded since the previous nightly run.
            models.Index(fields=["organization", "created_at"], name="pipeline_activity_recorded_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {datetime_text(self.occurred_at)}"
