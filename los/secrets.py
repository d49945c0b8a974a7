"""Secrets at rest: a connection's client secret is stored Fernet-encrypted with FIELD_ENCRYPTION_KEY.

FIELD_ENCRYPTION_KEY is one key, or several separated by commas: the first encrypts, every one decrypts, so a key
is rotated by putting the new one first and re-saving the connections (``los_connection`` or admin). Settings
refuse to start without it outside DEBUG; a malformed key fails here with a clear message.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys decrypts (the key was changed, not rotated)."""


@cache
def _fernet(keys: str) -> MultiFernet:
    parts = [key.strip() for key in keys.split(",") if key.strip()]
    if not parts:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty; generate one with `python -m los.secrets`.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in parts])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64-encoded bytes); "
            "generate one with `python -m los.secrets`."
        ) from exc


def encrypt(plaintext: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "The stored client secret cannot be decrypted with FIELD_ENCRYPTION_KEY (was the key replaced instead "
            "of rotated?). Enter the client secret again."
        ) from exc


if __name__ == "__main__":  # python -m los.secrets: print a new key
    print(Fernet.generate_key().decode())
