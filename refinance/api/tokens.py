"""API tokens: issued once, stored as a SHA-256 hash, scoped to a user and an organization, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.db.models import Q
from django.utils import timezone

from core.models import ApiToken, LoanOfficer, Organization

TOKEN_PREFIX = "rfa_"
PREFIX_LENGTH = 12  # "rfa_" + 8 characters, shown in admin to recognise a token
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most once a minute per token


class ApiTokenError(ValueError):
    pass


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _staff_profile(user: Any, organization: Organization | int) -> LoanOfficer | None:
    org_id = getattr(organization, "pk", organization)
    return LoanOfficer.objects.filter(user=user, organization_id=org_id, is_active=True).first()


def api_token_create(*, organization: Organization, user: Any, name: str) -> tuple[ApiToken, str]:
    """Issue a token for ``user`` in ``organization``. Returns the row and the raw token, which is never stored."""
    if not user.is_active or _staff_profile(user, organization) is None:
        raise ApiTokenError(f"{user} has no active staff profile in {organization}.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        organization=organization,
        user=user,
        name=name.strip() or "API token",
        prefix=raw[:PREFIX_LENGTH],
        token_hash=token_hash(raw),
    )
    token.full_clean()
    token.save()
    return token, raw


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token (idempotent: revoking twice keeps the first time)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The active token for a raw bearer value, or None. The user must still be active staff of the token's org."""
    if not raw:
        return None
    token = ApiToken.objects.active().select_related("organization", "user").filter(token_hash=token_hash(raw)).first()
    if token is None or not token.user.is_active or _staff_profile(token.user, token.organization_id) is None:
        return None
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Record that the token was used (at most once a minute, a conditional UPDATE)."""
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY)
    ).update(last_used_at=now)
