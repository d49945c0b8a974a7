from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.choices import choices_check
from core.models import Branch, LoanOfficer, Organization
from core.tenancy import TenantQuerySet, profile_for


class CampaignQuerySet(TenantQuerySet):
    """Campaigns are the managers' (org admins: all of the organization; a branch manager: their branch's);
    a loan officer sees none."""

    branch_path = "branch"

    def visible_to(self, user: Any) -> TenantQuerySet:
        profile = profile_for(user)
        if profile is None or profile.role == LoanOfficer.Role.LOAN_OFFICER:
            return self.none()
        return super().visible_to(user)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENDING = "sending", "Approved, queueing"
    SENT = "sent", "Sent"


class Campaign(models.Model):
    """A one-off email to the consenting borrowers of a set of board filters (seed quick win 1: "closed loans of
    the past 36 months with rates above the market + 0.75 %, a single educational email").

    The recipients are the board's filters (``filters``, the board's query string) over the opportunities the
    approving manager may see, one email per borrower (``outreach.Message`` kind campaign, send key
    ``campaign:<id>:<borrower>``). ``recipient_count`` and ``sent_at`` are frozen when the emails are queued."""

    Status = CampaignStatus

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(
        Branch,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="A branch manager's campaign: their branch only. Empty: the organization's (org admins).",
    )
    name = models.CharField(max_length=120)
    filters = models.TextField(blank=True, help_text="The board's filters (query string) that select the recipients.")
    filters_summary = models.CharField(max_length=500, blank=True)
    subject_template = models.CharField(max_length=200)
    body_template = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who pressed Send: the recipients are the opportunities this user may see.",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(null=True, blank=True, help_text="Emails queued (frozen at send).")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When its emails were queued.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            choices_check("status", CampaignStatus, "%(app_label)s_%(class)s_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False, recipient_count__isnull=False),
                name="%(app_label)s_%(class)s_sent_is_frozen",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(approved_at__isnull=False),
                name="%(app_label)s_%(class)s_approved_when_not_draft",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:detail", args=[self.pk])

    @property
    def send_key_prefix(self) -> str:
        return f"campaign:{self.pk}:"

    def send_key(self, borrower_id: int) -> str:
        return f"{self.send_key_prefix}{borrower_id}"
