"""Creating and changing webhook endpoints (the admin and ``webhook_endpoint`` call the same function)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from core.models import Organization
from webhooks import secrets
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookCursor, WebhookEndpoint
from webhooks.services.collect import cursor_start
from webhooks.urlguard import UnsafeUrl, check_url


def webhook_endpoint_validate(endpoint: WebhookEndpoint, *, secret: str | None) -> None:
    """Model checks, the SSRF guard, the secret's format and the event types; ValidationError keyed by field."""
    errors: dict[str, list[str]] = {}
    try:
        endpoint.full_clean(exclude=["organization", "events"], validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if "url" not in errors:
        try:
            check_url(endpoint.url)
        except UnsafeUrl as exc:
            errors.setdefault("url", []).append(str(exc))
    if secret:
        problem = secrets.secret_problem(secret)
        if problem:
            errors.setdefault("secret", []).append(problem)
    elif not endpoint.secret_encrypted:
        errors.setdefault("secret", []).append("An endpoint needs its signing secret (whsec_…).")
    unknown = [event for event in endpoint.events if event not in EVENT_TYPES]
    if unknown:
        errors.setdefault("events", []).append(f"Unknown event type(s): {', '.join(unknown)}.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def webhook_endpoint_save(
    *,
    organization: Organization,
    url: str,
    secret: str | None = None,
    events: list[str] | None = None,
    is_active: bool | None = None,
    description: str | None = None,
    endpoint: WebhookEndpoint | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Create or update an endpoint (by organization and URL, or the given one): ``(endpoint, outcome)`` with
    outcome "created", "updated" or "unchanged". ``None`` keeps a value; a blank secret keeps the stored one.

    Turning an endpoint on (again) clears its failure state. An organization's first active endpoint starts the
    collector at the present: it receives events from now on, never the history.
    """
    if endpoint is None:
        endpoint = WebhookEndpoint.objects.select_for_update().filter(
            organization=organization, url=url
        ).first() or WebhookEndpoint(organization=organization, url=url)
    created = endpoint.pk is None
    fields = ["url", "events", "is_active", "description"]
    before = {field: getattr(endpoint, field) for field in fields}
    endpoint.url = url
    if events is not None:
        endpoint.events = list(events)
    if description is not None:
        endpoint.description = description
    if is_active is not None:
        endpoint.is_active = is_active
    webhook_endpoint_validate(endpoint, secret=secret)
    secret_changed = bool(secret) and (not endpoint.secret_encrypted or _stored(endpoint) != secret)
    if secret_changed:
        endpoint.secret_encrypted = secrets.encrypt(secret or "")
    after = {field: getattr(endpoint, field) for field in fields}
    if not created and before == after and not secret_changed:
        return endpoint, "unchanged"
    if endpoint.is_active and (created or not before["is_active"]):
        endpoint.failing_since = endpoint.disabled_at = None
        if not WebhookEndpoint.objects.filter(organization=organization, is_active=True).exclude(pk=endpoint.pk):
            _cursor_reset(organization)
    endpoint.save()
    return endpoint, "created" if created else "updated"


def _stored(endpoint: WebhookEndpoint) -> str | None:
    try:
        return secrets.decrypt(endpoint.secret_encrypted)
    except secrets.SecretUnreadable:
        return None


def _cursor_reset(organization: Organization) -> None:
    activity_id, refinance_event_id = cursor_start()
    WebhookCursor.objects.update_or_create(
        organization=organization,
        defaults={
            "activity_id": activity_id,
            "refinance_event_id": refinance_event_id,
            "activity_gaps": [],
            "refinance_event_gaps": [],
        },
    )
