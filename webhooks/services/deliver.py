"""``webhooks_deliver``: send what is due, one row at a time, each claimed with a conditional UPDATE.

A claim is the row's ``claim_token`` and ``claimed_at`` (and one more attempt counted), taken only when the row is
due and unclaimed (or its claim is older than ``CLAIM_TIMEOUT``: the worker holding it died). The outcome is
written only while the claim is still ours. 2xx = delivered; anything else (another status, a redirect, a
timeout, a refused address) is retried after ``retry_delay``. An endpoint that has failed without a single
success for ``DISABLE_AFTER`` is disabled, its queued deliveries abandoned, and its organization's admins emailed
once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from django.core.mail import send_mail
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from core.models import LoanOfficer
from webhooks import secrets
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.payloads import SourceGone, payload_build
from webhooks.urlguard import UnsafeUrl, check_url

logger = logging.getLogger(__name__)

BACKOFF = [
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=6),
]
BACKOFF_AFTER = dt.timedelta(hours=12)
CLAIM_TIMEOUT = dt.timedelta(minutes=5)  # far above the request timeout
DISABLE_AFTER = dt.timedelta(days=3)
REQUEST_TIMEOUT = (5, 15)  # connect, read (seconds)
BODY_LIMIT = 2000
USER_AGENT = "refiapp-webhooks/1"
Status = WebhookDelivery.Status
DUE = (Status.PENDING, Status.FAILED)


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    abandoned: int = 0
    disabled: int = 0  # endpoints

    def __str__(self) -> str:
        return (
            f"{self.delivered} delivered, {self.failed} failed (will retry), {self.abandoned} abandoned, "
            f"{self.disabled} endpoint(s) disabled"
        )


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h."""
    return BACKOFF[attempts - 1] if 1 <= attempts <= len(BACKOFF) else BACKOFF_AFTER


def _claimable(now: dt.datetime) -> Q:
    return Q(status__in=DUE, next_attempt_at__lte=now, endpoint__is_active=True) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT)
    )


def webhooks_deliver(
    *, now: dt.datetime | None = None, limit: int = 200, organization: Any = None, session: Any = None
) -> DeliveryStats:
    """Send up to ``limit`` due deliveries (oldest due first); returns what happened."""
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else timezone.now
    stats = DeliveryStats()
    due = WebhookDelivery.objects.filter(_claimable(clock()))
    if organization is not None:
        due = due.filter(organization=organization)
    for pk in list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]):
        at, token = clock(), str(uuid.uuid4())
        # The claim: WHERE … still due and unclaimed, so two workers never hold the same row.
        claimed = WebhookDelivery.objects.filter(_claimable(at), pk=pk).update(
            claimed_at=at, claim_token=token, attempts=F("attempts") + 1, updated_at=at
        )
        if claimed:
            delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=pk)
            _attempt(delivery, token=token, now=at, stats=stats, session=session or requests)
    return stats


def _mine(delivery: WebhookDelivery, token: str) -> QuerySet:
    return WebhookDelivery.objects.filter(pk=delivery.pk, claim_token=token)


def signed_request(delivery: WebhookDelivery, *, secret: str, now: dt.datetime) -> tuple[bytes, dict[str, str]]:
    """The body and the Standard Webhooks headers of ``delivery`` (signature over id.timestamp.body)."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    stamp = now.astimezone(dt.UTC).replace(microsecond=0)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id=delivery.event_id, timestamp=stamp, data=body),
    }
    return body.encode(), headers


def _attempt(delivery: WebhookDelivery, *, token: str, now: dt.datetime, stats: DeliveryStats, session: Any) -> None:
    endpoint = delivery.endpoint
    if delivery.payload is None:
        try:
            delivery.payload = payload_build(delivery)
        except SourceGone as exc:
            _mine(delivery, token).update(
                status=Status.ABANDONED, error=str(exc)[:500], claimed_at=None, claim_token="", updated_at=now
            )
            stats.abandoned += 1
            return
        _mine(delivery, token).update(payload=delivery.payload)
    try:
        secret = secrets.decrypt(endpoint.secret_encrypted)
        check_url(endpoint.url)
        body, headers = signed_request(delivery, secret=secret, now=now)
        response = session.post(
            endpoint.url, data=body, headers=headers, timeout=REQUEST_TIMEOUT, allow_redirects=False
        )
    except (secrets.SecretUnreadable, UnsafeUrl) as exc:
        _failed(delivery, token=token, now=now, stats=stats, error=str(exc))
        return
    except requests.RequestException as exc:
        _failed(delivery, token=token, now=now, stats=stats, error=f"{type(exc).__name__}: {exc}")
        return
    status, text = response.status_code, (response.text or "")[:BODY_LIMIT]
    if 200 <= status < 300:
        _mine(delivery, token).update(
            status=Status.DELIVERED,
            delivered_at=now,
            last_attempt_at=now,
            response_status=status,
            response_body=text,
            error="",
            next_attempt_at=None,
            claimed_at=None,
            claim_token="",
            updated_at=now,
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(failing_since=None)
        stats.delivered += 1
        return
    _failed(delivery, token=token, now=now, stats=stats, error=f"HTTP {status}", status=status, text=text)


def _failed(
    delivery: WebhookDelivery,
    *,
    token: str,
    now: dt.datetime,
    stats: DeliveryStats,
    error: str,
    status: int | None = None,
    text: str = "",
) -> None:
    attempts = WebhookDelivery.objects.values_list("attempts", flat=True).get(pk=delivery.pk)
    _mine(delivery, token).update(
        status=Status.FAILED,
        last_attempt_at=now,
        next_attempt_at=now + retry_delay(attempts),
        response_status=status,
        response_body=text,
        error=error[:500],
        claimed_at=None,
        claim_token="",
        updated_at=now,
    )
    stats.failed += 1
    endpoint = delivery.endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    failing_since = WebhookEndpoint.objects.values_list("failing_since", flat=True).get(pk=endpoint.pk)
    if failing_since is not None and now - failing_since >= DISABLE_AFTER:
        stats.disabled += webhook_endpoint_disable(endpoint=endpoint, now=now)


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, now: dt.datetime) -> int:
    """Disable an endpoint that kept failing, abandon what was queued for it and email the admins once.

    Returns 1 when this call disabled it (the conditional UPDATE makes it happen once), else 0.
    """
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True, disabled_at__isnull=True).update(
        is_active=False, disabled_at=now, updated_at=now
    )
    if not disabled:
        return 0
    WebhookDelivery.objects.filter(endpoint=endpoint, status__in=DUE).update(
        status=Status.ABANDONED, error="The endpoint was disabled after failing for 3 days.", updated_at=now
    )
    recipients = list(
        LoanOfficer.objects.filter(
            organization_id=endpoint.organization_id, role=LoanOfficer.Role.ORG_ADMIN, is_active=True
        )
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if recipients:
        try:
            send_mail(
                subject=f"Webhook endpoint disabled: {endpoint.url}",
                message=(
                    f"The webhook endpoint {endpoint.url} has failed every delivery since "
                    f"{endpoint.failing_since or now:%Y-%m-%d %H:%M} UTC and was disabled on {now:%Y-%m-%d %H:%M} "
                    "UTC. Events are no longer sent to it.\n\nCheck the endpoint, then turn it on again in "
                    "Admin → CRM webhooks → Webhook endpoints (and replay the abandoned deliveries if the CRM "
                    "needs them)."
                ),
                from_email=None,
                recipient_list=recipients,
            )
        except Exception:  # the endpoint stays disabled; the mail server's problem is logged, not raised
            logger.exception("Could not email the admins about disabled webhook endpoint %s", endpoint.pk)
    return 1


def webhook_deliveries_replay(*, deliveries: QuerySet, now: dt.datetime | None = None) -> int:
    """Queue delivered, failed or abandoned deliveries again (same event id and body, fresh backoff); rows in
    flight or already pending are left alone. Returns how many were queued."""
    now = now or timezone.now()
    return (
        deliveries.filter(status__in=[Status.DELIVERED, Status.FAILED, Status.ABANDONED])
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(
            status=Status.PENDING,
            attempts=0,
            next_attempt_at=now,
            claimed_at=None,
            claim_token="",
            error="",
            updated_at=now,
        )
    )
