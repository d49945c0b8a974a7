"""Login throttling helpers: the client address django-axes counts (``client_ip``) and its settings."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def lockout_parameters(items: list[str]) -> list[str | list[str]]:
    """LOGIN_LOCKOUT_PARAMETERS → AXES_LOCKOUT_PARAMETERS: "username,ip_address" counts failures per username
    and, separately, per client IP; "username+ip_address" counts them per pair."""
    return [item.split("+") if "+" in item else item for item in items]


def client_ip(request: HttpRequest) -> str:
    """The connection's address, or, behind TRUSTED_PROXY_COUNT proxies that each append the address they
    received from to X-Forwarded-For, the address the first of them saw. Entries left of that were written
    by the client and are never trusted."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]
