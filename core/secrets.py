"""Secrets at rest (an LOS connection's client secret, a webhook endpoint's signing secret): Fernet-encrypted with
FIELD_ENCRYPTION_KEY.

FIELD_ENCRYPTION_KEY is one key, or several separated by commas: the first encrypts, every one decrypts, so a key
is rotated by putting the new one first and re-saving the rows that hold secrets. Settings refuse to start without
it outside DEBUG; a malformed key fails here with a clear message. ``python -m core.secrets`` prints a new key.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

GENERATE = "generate one with `python -m core.secrets`"


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys decrypts (the key was changed, not rotated)."""


@cache
def _fernet(keys: str) -> MultiFernet:
    parts = [key.strip() for key in keys.split(",") if key.strip()]
    if not parts:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEY is empty; {GENERATE}.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in parts])
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64-encoded bytes); {GENERATE}."
        ) from exc


def encrypt(plaintext: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, what: str = "secret", again: str = "Enter it again.") -> str:
    """The plaintext of ``token``; ``what`` and ``again`` name the secret and the fix in the error."""
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            f"The stored {what} cannot be decrypted with FIELD_ENCRYPTION_KEY (was the key replaced instead of "
            f"rotated?). {again}"
        ) from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()


if __name__ == "__main__":  # python -m core.secrets: print a new key
    print(generate_key())
