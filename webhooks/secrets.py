"""An endpoint's signing secret at rest: Fernet-encrypted with FIELD_ENCRYPTION_KEY (``core.secrets``, as LOS
client secrets).

The key setting is the same one (first key encrypts, every key decrypts, so rotation works alike); a secret is
decrypted only to sign a request.
"""

from __future__ import annotations

import base64
import binascii

from core.secrets import SecretUnreadable, encrypt
from core.secrets import decrypt as _decrypt

__all__ = ["PREFIX", "SecretUnreadable", "decrypt", "encrypt", "secret_problem"]

PREFIX = "whsec_"
MIN_BYTES, MAX_BYTES = 24, 64


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


def decrypt(token: str) -> str:
    return _decrypt(token, what="webhook secret", again="Set the endpoint's secret again.")
