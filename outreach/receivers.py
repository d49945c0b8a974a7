"""anymail signal receivers. They ONLY store the event (deduplicated) and queue its processing after commit.

A receiver that raises makes anymail answer 400/500 and the ESP re-send; a slow one does too. So the work is
one INSERT here; processing runs in the task queue, and a failed enqueue is picked up by the retry schedule.
A failed INSERT (database down) does raise: the ESP then retries, so the event is not lost.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from outreach.models import Enrollment, WebhookEvent
from outreach.services.enrollments import STOP_STAGES, enrollment_stop_for_opportunity
from outreach.services.webhooks import payload_fingerprint, webhook_event_store
from pipeline.signals import application_started, stage_changed

logger = logging.getLogger(__name__)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def enqueue_processing(event_id: int) -> None:
    def enqueue() -> None:
        try:
            from django_q.tasks import async_task

            async_task("outreach.tasks.process_webhook_event", event_id, task_name=f"webhook-{event_id}")
        except Exception:  # the stored event is retried by process_pending_webhook_events
            logger.exception("Could not queue webhook event %s; the retry schedule will process it", event_id)

    transaction.on_commit(enqueue)


def tracking_payload(event: Any, esp_name: str) -> dict[str, Any]:
    return {
        "esp": esp_name,
        "event_type": event.event_type,
        "event_id": event.event_id,
        "message_id": None if event.message_id is None else str(event.message_id),
        "recipient": event.recipient,
        "timestamp": event.timestamp.isoformat() if event.timestamp else None,
        "metadata": _json_safe(event.metadata or {}),
        "tags": _json_safe(event.tags or []),
        "reject_reason": event.reject_reason,
        "description": event.description,
        "mta_response": event.mta_response,
        "click_url": event.click_url,
        "user_agent": event.user_agent,
        "esp_event": _json_safe(event.esp_event) if isinstance(event.esp_event, dict | list) else None,
    }


def inbound_payload(event: Any, esp_name: str) -> dict[str, Any]:
    message = event.message
    from_address = message.from_email.addr_spec if message.from_email else ""
    text = message.stripped_text if hasattr(message, "stripped_text") and message.stripped_text else message.text
    return {
        "esp": esp_name,
        "from": from_address,
        "to": [address.addr_spec for address in (message.to or [])],
        "cc": [address.addr_spec for address in (message.cc or [])],
        "subject": message.subject or "",
        "text": (text or "")[:20000],
        "message_id_header": message.get("Message-ID", ""),
        "in_reply_to": message.get("In-Reply-To", ""),
        "references": message.get("References", ""),
        "auto_submitted": message.get("Auto-Submitted", "no"),
        "timestamp": event.timestamp.isoformat() if event.timestamp else None,
    }


def store_tracking_event(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    payload = tracking_payload(event, esp_name)
    fingerprint = event.event_id or payload_fingerprint({k: v for k, v in payload.items() if k != "esp_event"})
    row, created = webhook_event_store(
        provider=WebhookEvent.Provider.ANYMAIL,
        kind=event.event_type,
        event_id=f"{esp_name}:{event.event_type}:{fingerprint}",
        payload=payload,
    )
    if created:
        enqueue_processing(row.pk)


def store_inbound_event(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    payload = inbound_payload(event, esp_name)
    fingerprint = event.event_id or payload["message_id_header"] or payload_fingerprint(payload)
    row, created = webhook_event_store(
        provider=WebhookEvent.Provider.ANYMAIL,
        kind="inbound",
        event_id=f"{esp_name}:inbound:{fingerprint}",
        payload=payload,
    )
    if created:
        enqueue_processing(row.pk)


def stop_on_closing_stage(*, opportunity: Any, to_stage: str, actor: Any = None, note: str = "", **kwargs: Any) -> None:
    """Application, won, lost and archived end the opportunity's sequence (DESIGN §6)."""
    if to_stage in STOP_STAGES:
        enrollment_stop_for_opportunity(opportunity=opportunity, reason=STOP_STAGES[to_stage], actor=actor, note=note)


def stop_on_application(*, opportunity: Any, actor: Any = None, note: str = "", **kwargs: Any) -> None:
    """A refinance started ends the sequence, whatever the opportunity's stage was."""
    enrollment_stop_for_opportunity(
        opportunity=opportunity, reason=Enrollment.StopReason.APPLICATION, actor=actor, note=note
    )


def connect() -> None:
    """Called from OutreachConfig.ready(): the ESP's signals, and the pipeline's (which must not import us)."""
    from anymail.signals import inbound, tracking

    tracking.connect(store_tracking_event, dispatch_uid="outreach.store_tracking_event", weak=False)
    inbound.connect(store_inbound_event, dispatch_uid="outreach.store_inbound_event", weak=False)
    stage_changed.connect(stop_on_closing_stage, dispatch_uid="outreach.stop_on_closing_stage", weak=False)
    application_started.connect(stop_on_application, dispatch_uid="outreach.stop_on_application", weak=False)
