"""SSRF guard: a webhook URL must be https and resolve only to public addresses.

Checked when an endpoint is saved and again before every request (DNS can change). Private, loopback,
link-local (the cloud metadata address 169.254.169.254), shared, multicast and reserved addresses are refused,
unless WEBHOOK_ALLOW_PRIVATE_URLS is on (development, tests, a CRM on the same network) — which also allows http.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeUrl(ValueError):
    """A URL the app refuses to call; the message says why, in words for the admin."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this; literal addresses are not looked up)."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> None:
    """Raise UnsafeUrl unless ``url`` may be called."""
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_URLS
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl(f"Not a valid URL: {exc}.") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl("The URL must be https://host/path.")
    if parts.scheme != "https" and not allow_private:
        raise UnsafeUrl("The URL must use https (the events carry borrower names).")
    if parts.username or parts.password:
        raise UnsafeUrl("The URL must not contain a user name or password; the signature authenticates requests.")
    if allow_private:
        return
    host = parts.hostname
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolve_host(host, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl(f"The host {host} cannot be resolved ({exc}).") from exc
    if not addresses:
        raise UnsafeUrl(f"The host {host} cannot be resolved.")
    private = [address for address in addresses if not _public(address)]
    if private:
        raise UnsafeUrl(
            f"The host {host} resolves to a private, loopback or link-local address ({', '.join(private)}); "
            "webhooks go only to public addresses."
        )
