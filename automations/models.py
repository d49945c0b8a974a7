"""The automations' own rows: the status message per milestone (editable), the 18-month check's ledger and the
loan officers' notifications (each sent once). The borrower's messages themselves are outbox rows
(``outreach.Message`` of kind lock_alert / status_update, one per send key)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from automations.rendering import SAMPLE_STATUS_CONTEXT
from core.choices import Channel, choices_check
from core.models import LoanOfficer, Organization
from core.tenancy import TenantQuerySet
from loans.models import Loan
from loans.models.portfolio import RATE
from outreach.rendering import TemplateError, render_string
from pipeline.models import Opportunity

# The refinance's own milestones (RefinanceTransaction statuses, by their labels); the LOS names its own.
REFINANCE_MILESTONES = ("Initiated", "Approved", "Funded", "Cancelled")


class StatusTemplate(models.Model):
    """What a borrower is told when their application reaches ``milestone`` (the LOS milestone name or a
    refinance status), on one channel. No template, an inactive one or an empty body: nothing is sent."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    milestone = models.CharField(
        max_length=100, help_text="As the LOS names it (e.g. Processing, Approval) or a refinance status (Approved)."
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    subject = models.CharField(max_length=200, blank=True, help_text="Email only. Tokens as in the body.")
    body = models.TextField(
        blank=True,
        help_text="Empty: no message for this milestone. Tokens: {{ borrower_first_name }}, {{ milestone }}, "
        "{{ loan_number }}, {{ lo_name }}, {{ lo_phone }}, {{ lo_email }}, {{ org_name }}.",
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["milestone", "channel"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("milestone"),
                "channel",
                name="%(app_label)s_%(class)s_one_per_milestone",
                violation_error_message="There is already a template for this milestone and channel.",
            ),
            choices_check("channel", Channel, "%(app_label)s_%(class)s_channel_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.milestone} ({self.get_channel_display()})"

    def clean(self) -> None:
        errors = {}
        for name in ("subject", "body"):
            try:
                render_string(getattr(self, name), SAMPLE_STATUS_CONTEXT, autoescape=True)
            except TemplateError as exc:
                errors[name] = f"The template does not render: {exc}"
        if self.channel == Channel.EMAIL and self.body.strip() and not self.subject.strip():
            errors["subject"] = "An email needs a subject."
        if errors:
            raise ValidationError(errors)


class LoanReviewQuerySet(TenantQuerySet):
    branch_path = "loan__branch"
    officer_path = "loan__loan_officer"


class LoanReview(models.Model):
    """The 18-month check of one loan (at most one per loan): the spread it saw against today's market rate and
    whether it cleared the organization's threshold (then ``opportunity`` is the flagged one)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    loan = models.OneToOneField(Loan, on_delete=models.CASCADE, related_name="review")
    checked_on = models.DateField(help_text="The organization's date of the check.")
    months = models.PositiveSmallIntegerField(help_text="The organization's review age at the check.")
    note_rate = models.DecimalField(**RATE, help_text="The rate in force (an ARM's current rate, else the note).")
    market_series = models.CharField(max_length=40, blank=True)
    market_rate = models.DecimalField(**RATE, null=True, blank=True)
    spread = models.DecimalField(**RATE, null=True, blank=True, help_text="Note rate − market rate (points).")
    cleared = models.BooleanField(default=False, help_text="Cleared the organization's threshold at the check.")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LoanReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-checked_on", "-pk"]
        indexes = [models.Index(fields=["organization", "checked_on"], name="automations_review_org_idx")]

    def __str__(self) -> str:
        return f"Review of loan {self.loan_id} on {self.checked_on}"


class NotificationQuerySet(TenantQuerySet):
    branch_path = "loan_officer__branch"
    officer_path = "loan_officer"


class OfficerNotification(models.Model):
    """An email to a loan officer about one event (a lock about to expire), once per ``key``: the row is written
    with the borrower's message, the email sent after commit; an unsent one is retried by the next run."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    loan_officer = models.ForeignKey(LoanOfficer, on_delete=models.CASCADE, related_name="+")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    key = models.CharField(max_length=120, help_text="What it is about; one notification per key.")
    to_address = models.EmailField()
    subject = models.CharField(max_length=250)
    body = models.TextField()
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="%(app_label)s_%(class)s_one_per_key"),
        ]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(sent_at__isnull=True), name="automations_notif_unsent_idx")
        ]

    def __str__(self) -> str:
        return self.subject
