"""Deploy check: the demo's stand-in CRM receiver (``refiapp.demo_crm``) is for ``make demo`` only."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def demo_crm_receiver_off(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not settings.DEMO_CRM_RECEIVER or settings.DEBUG:
        return []
    return [
        Warning(
            "DEMO_CRM_RECEIVER is on outside DEBUG: /demo-crm/hooks/ accepts webhooks for the demo organization.",
            hint="Unset DEMO_CRM_RECEIVER (it is for `make demo` only).",
            id="refiapp.W001",
        )
    ]
