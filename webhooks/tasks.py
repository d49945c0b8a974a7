"""django-q2 entry points (refiapp/schedules.py runs ``send_webhooks`` every minute); they only call services."""

from __future__ import annotations

from webhooks.services import webhooks_collect, webhooks_deliver


def send_webhooks() -> str:
    """Turn new timeline and refinance rows into deliveries, then send what is due (retries included)."""
    queued = webhooks_collect()
    stats = webhooks_deliver()
    return f"{queued} queued; {stats}"
