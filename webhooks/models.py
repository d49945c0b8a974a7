"""CRM write-back: an organization's webhook endpoints, every delivery to them, and the collector's cursor.

Named apart from ``outreach.WebhookEvent`` (what email and SMS providers send us): these go out.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.choices import choices_check
from core.models import Organization
from core.tenancy import TenantQuerySet


class WebhookEndpoint(models.Model):
    """A URL of a CRM that receives the organization's events, signed with its secret (Standard Webhooks)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret_encrypted = models.TextField(editable=False)
    events = models.JSONField(
        default=list, blank=True, help_text="The event types sent to this endpoint; empty = every event type."
    )
    is_active = models.BooleanField("active", default=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last delivered one."
    )
    disabled_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was disabled after failing for 3 days (the admins were emailed)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["url"]
        verbose_name = "webhook endpoint"
        constraints = [
            models.UniqueConstraint(fields=["organization", "url"], name="%(app_label)s_%(class)s_unique_url"),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    def events_label(self) -> str:
        return ", ".join(self.events) if self.events else "all events"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (will retry)"
    ABANDONED = "abandoned", "Abandoned"


class DeliveryQuerySet(TenantQuerySet):
    pass


class WebhookDelivery(models.Model):
    """One event for one endpoint: queued by the collector, sent (and retried) by the worker.

    ``event_id`` (the ``webhook-id`` header) is derived from the source row, so the same event can never be
    queued twice for an endpoint; a replay sends it again with the same id (receivers deduplicate on it).
    The payload is built at the first attempt and kept, so retries and replays send the same body.
    """

    Status = DeliveryStatus

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40)
    # The source row (plain ids: the timeline and the audit are append-only and owned by the apps below).
    activity_id = models.BigIntegerField(null=True, blank=True)
    refinance_event_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    payload = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=36, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The first 2,000 characters of the response.")
    error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="%(app_label)s_%(class)s_one_per_event"),
            choices_check("status", DeliveryStatus, "%(app_label)s_%(class)s_status_valid"),
            models.CheckConstraint(
                condition=Q(activity_id__isnull=False, refinance_event_id__isnull=True)
                | Q(activity_id__isnull=True, refinance_event_id__isnull=False),
                name="%(app_label)s_%(class)s_one_source",
            ),
        ]
        indexes = [
            # webhooks_deliver: the due rows (pending or failed), oldest due first.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"]),
                name="webhooks_delivery_due_idx",
            ),
            # The deliveries log of an endpoint.
            models.Index(fields=["endpoint", "-created_at"], name="webhooks_delivery_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookCursor(models.Model):
    """How far the collector has read an organization's timeline and refinance audit.

    ``*_gaps`` are id ranges below the cursor not visible when it moved ([first, last, seen_at epoch]): ids taken
    by a transaction still running then. They are read again on each run until they fill or expire (an hour), so a
    late commit is not skipped; the unique (endpoint, event id) keeps a re-read from queuing anything twice.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    activity_id = models.BigIntegerField(default=0)
    activity_gaps = models.JSONField(default=list, blank=True)
    refinance_event_id = models.BigIntegerField(default=0)
    refinance_event_gaps = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"cursor of {self.organization_id}"
