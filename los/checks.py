"""Deploy check: a production LOS setup needs the key that encrypts client secrets at rest."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.security, deploy=True)
def field_encryption_key_set(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.FIELD_ENCRYPTION_KEY:
        return []
    return [
        Error(
            "FIELD_ENCRYPTION_KEY is not set: LOS client secrets cannot be stored or read.",
            hint="Generate one with `python -m los.secrets` and set it in the environment (keep it with SECRET_KEY).",
            id="los.E001",
        )
    ]
