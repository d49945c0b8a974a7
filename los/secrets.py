"""A connection's client secret at rest: Fernet-encrypted with FIELD_ENCRYPTION_KEY (``core.secrets``).

``python -m los.secrets`` prints a new key (as ``python -m core.secrets`` does; the deploy guide names this one).
"""

from __future__ import annotations

from core.secrets import SecretUnreadable, encrypt, generate_key
from core.secrets import decrypt as _decrypt

__all__ = ["SecretUnreadable", "decrypt", "encrypt"]


def decrypt(token: str) -> str:
    return _decrypt(token, what="client secret", again="Enter the client secret again.")


if __name__ == "__main__":  # python -m los.secrets: print a new key
    print(generate_key())
