from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from loans.models.tenancy import Organization
from loans.tenancy import TenantQuerySet


class ApiTokenQuerySet(TenantQuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token for the command API. Only its SHA-256 is stored; the token is shown once."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """The first response to an Idempotency-Key, replayed for retries of the same API token.

    Keys belong to the token that sent them: a colleague's token using the same key gets its own processing,
    never the first token's response (which would show them a transaction they did not make)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="%(app_label)s_%(class)s_unique_token_key"),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(response_status__isnull=False),
                name="%(app_label)s_%(class)s_completed_has_response",
            ),
        ]

    def __str__(self) -> str:
        return self.key
