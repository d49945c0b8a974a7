from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.choices import Channel, choices_check
from core.models import LoanOfficer, Organization
from core.tenancy import TenantQuerySet, profile_for
from loans.models import Borrower
from pipeline.models import Opportunity


class Sequence(models.Model):
    """An outreach plan: steps sent on day offsets after enrollment, from the loan officer."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sequences")
    name = models.CharField(max_length=120)
    is_default = models.BooleanField(default=False, help_text="Used for automatic enrollment.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="%(app_label)s_%(class)s_unique_name"),
            models.UniqueConstraint(
                fields=["organization"], condition=Q(is_default=True), name="%(app_label)s_%(class)s_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SequenceStep(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    day_offset = models.PositiveSmallIntegerField(help_text="Day 1 = the day of enrollment.")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject_template = models.CharField(max_length=200, blank=True, help_text="Email only. Django template syntax.")
    body_template = models.TextField(help_text="Django template syntax; tokens are listed in the help below.")

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="%(app_label)s_%(class)s_unique_position"),
            choices_check("channel", Channel, "%(app_label)s_%(class)s_channel_valid"),
            models.CheckConstraint(condition=Q(day_offset__gte=1), name="%(app_label)s_%(class)s_day_offset_min"),
        ]

    def __str__(self) -> str:
        return f"Day {self.day_offset} {self.get_channel_display()}"


class EnrollmentQuerySet(TenantQuerySet):
    branch_path = "opportunity__branch"
    officer_path = "opportunity__loan_officer"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
    COMPLETED = "completed", "Completed"


class EnrollmentStopReason(models.TextChoices):
    REPLIED = "replied", "Borrower replied"
    CLICKED = "clicked", "Borrower clicked the scheduling link"
    BOOKED = "booked", "Borrower booked a call"
    APPLICATION = "application", "Application started"
    WON = "won", "Opportunity won"
    OPTED_OUT = "opted_out", "Borrower opted out"
    MANUAL = "manual", "Stopped by the loan officer"
    CLOSED = "closed", "Opportunity closed"


class Enrollment(models.Model):
    """One borrower's run through a sequence for one opportunity."""

    Status = EnrollmentStatus
    StopReason = EnrollmentStopReason
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="enrollments")
    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    stop_reason = models.CharField(max_length=12, choices=StopReason.choices, blank=True)
    enrolled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            choices_check("status", EnrollmentStatus, "%(app_label)s_%(class)s_status_valid"),
            models.UniqueConstraint(
                fields=["opportunity"],
                condition=Q(status__in=["active", "paused"]),
                name="%(app_label)s_%(class)s_one_running_per_opportunity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sequence} for opportunity {self.opportunity_id} ({self.get_status_display()})"


class MessageQuerySet(TenantQuerySet):
    """A message about an opportunity is scoped by the opportunity's branch and officer; one without an
    opportunity (a lock alert or status update of an LOS application) by the officer it is sent in the name of."""

    branch_path = "opportunity__branch"
    officer_path = "opportunity__loan_officer"

    def visible_to(self, user: Any) -> TenantQuerySet:
        profile = profile_for(user)
        if profile is None:
            return self.none()
        qs = self.for_organization(profile.organization_id)
        if profile.role == LoanOfficer.Role.BRANCH_MANAGER:
            return qs.filter(
                Q(opportunity__branch=profile.branch_id)
                | Q(opportunity__isnull=True, loan_officer__branch=profile.branch_id)
            )
        if profile.role == LoanOfficer.Role.LOAN_OFFICER:
            return qs.filter(
                Q(opportunity__loan_officer=profile.pk) | Q(opportunity__isnull=True, loan_officer=profile.pk)
            )
        return qs


class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending (claimed)"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SUPPRESSED = "suppressed", "Not sent (consent, opt-out or undeliverable)"


class MessageKind(models.TextChoices):
    SEQUENCE = "sequence", "Sequence step"
    DIGEST = "digest", "Monthly borrower digest"
    LOCK_ALERT = "lock_alert", "Rate-lock expiry alert"
    STATUS_UPDATE = "status_update", "Application status update"
    CAMPAIGN = "campaign", "Rate-alert campaign"


# Kinds rendered by the code that queues them (subject, body, body_html stored on the row); only a sequence step is
# rendered at send time from its template. Each of them carries a ``send_key``.
PRERENDERED_KINDS = frozenset(
    {MessageKind.DIGEST, MessageKind.LOCK_ALERT, MessageKind.STATUS_UPDATE, MessageKind.CAMPAIGN}
)
# Kinds about the opportunity's outreach: cancelled when it closes (application, won, lost, archived) or its loan
# does. A lock alert or a status update is about the application itself and goes out at the Application stage.
OPPORTUNITY_BOUND_KINDS = frozenset({MessageKind.SEQUENCE, MessageKind.DIGEST, MessageKind.CAMPAIGN})
# Kinds that quote the opportunity's savings: never sent on figures the match no longer finds.
QUOTING_KINDS = frozenset({MessageKind.SEQUENCE, MessageKind.DIGEST})


class Message(models.Model):
    """The outbox: one row per (enrollment, step), or one pre-rendered message (monthly digest, rate-lock alert,
    application status update, campaign email) per ``send_key``; claimed by the dispatcher before it is sent. A
    sequence step is rendered at send time from its template; the other kinds are rendered when they are queued
    (``subject``, ``body``, ``body_html``) and only checked and sent here."""

    Status = MessageStatus
    Kind = MessageKind
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SEQUENCE)
    send_key = models.CharField(
        max_length=120,
        blank=True,
        help_text="Pre-rendered kinds: what makes the send happen at most once in the organization "
        "(e.g. digest:<borrower>:<month>, lock:<application>:<expiration>, campaign:<campaign>:<borrower>).",
    )
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, null=True, blank=True, related_name="messages")
    step = models.ForeignKey(SequenceStep, on_delete=models.PROTECT, null=True, blank=True, related_name="messages")
    digest_month = models.DateField(null=True, blank=True, help_text="Digests: the first day of their month.")
    opportunity = models.ForeignKey(
        Opportunity,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        help_text="Empty for a lock alert or status update of an application without an opportunity (LOS).",
    )
    loan_officer = models.ForeignKey(
        LoanOfficer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The officer the message is sent in the name of (else the opportunity's).",
    )
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    due_at = models.DateTimeField(help_text="Not before; the dispatcher also waits for the borrower's send window.")
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=36, blank=True)
    handed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Committed just before the provider call: set, the provider may have the message (the "
        "reconciler asks it); empty on a stuck row, it was never handed over (re-queued, sent once).",
    )
    to_address = models.CharField(max_length=254, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=250, blank=True)
    body = models.TextField(blank=True)
    body_html = models.TextField(blank=True, help_text="Digests: the HTML part, rendered when queued.")
    provider_message_id = models.CharField(max_length=100, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=20, blank=True)
    error_message = models.TextField(blank=True)
    hold_reason = models.CharField(
        max_length=200, blank=True, help_text="Why a scheduled message is waiting (quiet hours, stale rates, retry)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            # The send key: a step is sent at most once per enrollment.
            models.UniqueConstraint(fields=["enrollment", "step"], name="%(app_label)s_%(class)s_one_per_step"),
            # The digest's send key: at most one per borrower and month.
            models.UniqueConstraint(
                fields=["borrower", "digest_month"],
                condition=Q(kind="digest"),
                name="%(app_label)s_%(class)s_one_digest_per_month",
            ),
            # Every other kind's send key: at most once per key in the organization.
            models.UniqueConstraint(
                fields=["organization", "send_key"],
                condition=~Q(send_key=""),
                name="%(app_label)s_%(class)s_one_per_send_key",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        kind="sequence",
                        enrollment__isnull=False,
                        step__isnull=False,
                        digest_month__isnull=True,
                        send_key="",
                    )
                    | Q(kind="digest", enrollment__isnull=True, step__isnull=True, digest_month__isnull=False)
                    | (
                        Q(
                            kind__in=["lock_alert", "status_update", "campaign"],
                            enrollment__isnull=True,
                            step__isnull=True,
                            digest_month__isnull=True,
                        )
                        & ~Q(send_key="")
                    )
                ),
                name="%(app_label)s_%(class)s_kind_fields",
            ),
            # Who it is about and from: sequences, digests and campaigns quote an opportunity; a lock alert or a
            # status update may be about an LOS application only, then sent in the name of its loan officer.
            models.CheckConstraint(
                condition=Q(kind__in=["sequence", "digest", "campaign"], opportunity__isnull=False)
                | (
                    Q(kind__in=["lock_alert", "status_update"])
                    & (Q(opportunity__isnull=False) | Q(loan_officer__isnull=False))
                ),
                name="%(app_label)s_%(class)s_has_sender",
            ),
            choices_check("kind", MessageKind, "%(app_label)s_%(class)s_kind_valid"),
            choices_check("status", MessageStatus, "%(app_label)s_%(class)s_status_valid"),
            choices_check("channel", Channel, "%(app_label)s_%(class)s_channel_valid"),
        ]
        indexes = [
            # dispatch_outreach: due rows waiting to be claimed.
            models.Index(fields=["due_at"], condition=Q(status="scheduled"), name="outreach_msg_due_idx"),
            # dispatch_outreach reconciliation: rows claimed by a worker that never confirmed the send.
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="outreach_msg_claimed_idx"),
            # Webhooks: find the message a provider event is about.
            models.Index(fields=["provider_message_id"], name="outreach_msg_provider_id_idx"),
            # Reports: sends per channel over a period.
            models.Index(fields=["organization", "channel", "sent_at"], name="outreach_msg_report_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.to_address or self.borrower_id} ({self.get_status_display()})"


class WebhookEventProvider(models.TextChoices):
    ANYMAIL = "anymail", "Email (anymail)"
    TWILIO = "twilio", "Twilio"


class WebhookEvent(models.Model):
    """Every provider callback, stored before it is processed and deduplicated on its event id."""

    Provider = WebhookEventProvider
    provider = models.CharField(max_length=10, choices=Provider.choices)
    kind = models.CharField(max_length=40, help_text="tracking event type, inbound, sms-status, sms-inbound")
    event_id = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="%(app_label)s_%(class)s_unique_event"),
            choices_check("provider", WebhookEventProvider, "%(app_label)s_%(class)s_provider_valid"),
        ]
        indexes = [
            # Reprocessing: events stored but not yet processed.
            models.Index(
                fields=["received_at"], condition=Q(processed_at__isnull=True), name="outreach_wh_pending_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.event_id}"


class LocalSms(models.Model):
    """What the local SMS backend 'sent' (the embedded default instead of Twilio)."""

    sid = models.CharField(max_length=40, unique=True)
    to = models.CharField(max_length=16)
    from_number = models.CharField(max_length=16, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "local SMS"
        verbose_name_plural = "local SMS outbox"

    def __str__(self) -> str:
        return f"{self.to}: {self.body[:40]}"


class BookingRequestQuerySet(TenantQuerySet):
    branch_path = "opportunity__branch"
    officer_path = "opportunity__loan_officer"


class BookingRequestWindow(models.TextChoices):
    MORNING = "morning", "Morning (8–12)"
    AFTERNOON = "afternoon", "Afternoon (12–5)"
    EVENING = "evening", "Evening (5–8)"


class BookingRequest(models.Model):
    """A borrower's "book a call" request from their personal page: at most one per borrower per local day
    (a repeated post or a reload shows the same confirmation and writes nothing)."""

    Window = BookingRequestWindow

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="bookings")
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="+")
    requested_on = models.DateField(help_text="The borrower's local date of the request.")
    phone = models.CharField(max_length=20)
    preferred_windows = models.JSONField(default=list, blank=True)  # none ticked: "any time"
    preferred_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BookingRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["borrower", "requested_on"], name="%(app_label)s_%(class)s_one_per_borrower_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"Call request for opportunity {self.opportunity_id}"
