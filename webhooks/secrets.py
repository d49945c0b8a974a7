"""An endpoint's signing secret at rest: Fernet-encrypted with FIELD_ENCRYPTION_KEY (as LOS client secrets).

The key setting is the same one (first key encrypts, every key decrypts, so rotation works alike); a secret is
decrypted only to sign a request.
"""

from __future__ import annotations

import base64
import binascii
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "whsec_"
MIN_BYTES, MAX_BYTES = 24, 64


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys decrypts (the key was changed, not rotated)."""


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is not a Standard Webhooks secret (``whsec_`` + base64 of 24–64 random bytes), or None."""
    if not secret.startswith(PREFIX):
        return "The secret must start with whsec_ (whsec_ followed by base64 of 24 to 64 random bytes)."
    try:
        raw = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return "The secret after whsec_ must be base64 (A–Z, a–z, 0–9, +, /, = padding)."
    if not MIN_BYTES <= len(raw) <= MAX_BYTES:
        return f"The secret must encode {MIN_BYTES} to {MAX_BYTES} bytes; this one has {len(raw)}."
    return None


@cache
def _fernet(keys: str) -> MultiFernet:
    parts = [key.strip() for key in keys.split(",") if key.strip()]
    if not parts:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty; generate one with `python -m los.secrets`.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in parts])
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes).") from exc


def encrypt(plaintext: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "The stored webhook secret cannot be decrypted with FIELD_ENCRYPTION_KEY (was the key replaced instead "
            "of rotated?). Set the endpoint's secret again."
        ) from exc
