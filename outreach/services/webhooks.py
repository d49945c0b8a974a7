"""Provider callbacks: store first (deduplicated on the provider's event id), then process.

Processing is idempotent twice over: an event is processed once (row lock + ``processed_at``), and every effect
is itself a conditional update (a message timestamp set only when empty, an opt-out only when not opted out).
A processor that fails leaves the event stored with its error; ``webhook_events_process_pending`` retries it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.choices import Channel
from loans.models import Borrower
from outreach.models import Message, WebhookEvent
from outreach.services.consent import borrower_mark_undeliverable, borrower_opt_in, borrower_opt_out
from outreach.services.engagement import engagement_record, message_record_event, reply_record_without_opportunity
from pipeline.models import Activity, Opportunity

logger = logging.getLogger(__name__)

# support.twilio.com 223134027: single-word messages only.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "UNSTOP", "YES"}
HELP_WORDS = {"HELP", "INFO"}

# Twilio delivery errors (status callbacks) that mean the number cannot receive SMS.
SMS_UNDELIVERABLE_STATUS_CODES = {
    "21211": "Invalid phone number (Twilio 21211)",
    "21614": "Not a mobile number (Twilio 21614)",
    "30005": "Unknown or inactive number (Twilio 30005)",
    "30006": "Landline or unreachable carrier (Twilio 30006)",
}
PLUS_TAG = re.compile(r"\+r(\d+)@", re.IGNORECASE)


# ----- storing ---------------------------------------------------------------------------------------------


def _event_key(value: str) -> str:
    return value if len(value) <= 200 else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def webhook_event_store(
    *, provider: str, kind: str, event_id: str, payload: dict[str, Any]
) -> tuple[WebhookEvent, bool]:
    """Store one callback. Returns (event, created); a replay returns the stored row and created=False."""
    key = _event_key(event_id)
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(provider=provider, kind=kind[:40], event_id=key, payload=payload)
        return event, True
    except IntegrityError:
        return WebhookEvent.objects.get(provider=provider, event_id=key), False


def payload_fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# ----- processing ------------------------------------------------------------------------------------------


def webhook_event_process(*, event_id: int) -> bool:
    """Process one stored event. Returns True if it was processed now; errors are stored, never raised."""
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().filter(pk=event_id, processed_at__isnull=True).first()
            if event is None:
                return False
            handler = HANDLERS.get((event.provider, event.kind)) or HANDLERS.get((event.provider, "*"))
            if handler is not None:
                handler(event.payload)
            event.processed_at, event.error = timezone.now(), ""
            event.save(update_fields=["processed_at", "error"])
        return True
    except Exception as exc:  # stored for the retry pass and for admin; a bad event must not block the others
        logger.exception("Webhook event %s failed", event_id)
        WebhookEvent.objects.filter(pk=event_id).update(error=f"{type(exc).__name__}: {exc}"[:2000])
        return False


def webhook_events_process_pending(*, older_than: dt.timedelta = dt.timedelta(seconds=30), limit: int = 500) -> int:
    """Retry stored events that were not processed (processor failed, or the enqueue was lost)."""
    cutoff = timezone.now() - older_than
    ids = list(
        WebhookEvent.objects.filter(processed_at__isnull=True, received_at__lte=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in ids if webhook_event_process(event_id=pk))


def _when(value: Any) -> dt.datetime:
    parsed = parse_datetime(value) if isinstance(value, str) and value else None
    return parsed or timezone.now()


# ----- email (anymail) -------------------------------------------------------------------------------------


def _message_for_email_event(payload: dict[str, Any]) -> Message | None:
    metadata = payload.get("metadata") or {}
    candidate = str(metadata.get("outreach_message", "")).strip()
    if candidate.isdigit():
        message = Message.objects.select_related("opportunity", "borrower").filter(pk=int(candidate)).first()
        if message is not None and message.channel == Channel.EMAIL:
            return message
    provider_id = payload.get("message_id")
    if provider_id:
        return (
            Message.objects.select_related("opportunity", "borrower")
            .filter(provider_message_id=str(provider_id), channel=Channel.EMAIL)
            .first()
        )
    return None


def process_email_tracking(payload: dict[str, Any]) -> None:
    message = _message_for_email_event(payload)
    if message is None:
        return
    kind = payload.get("event_type")
    when = _when(payload.get("timestamp"))
    data = {"esp": payload.get("esp", ""), "event_id": payload.get("event_id") or ""}
    description = payload.get("mta_response") or payload.get("description") or ""
    if kind in ("queued", "sent"):
        if message.sent_at is None:
            message_record_event(message=message, kind=Activity.Kind.SENT, occurred_at=when, data=data)
    elif kind == "delivered":
        message_record_event(message=message, kind=Activity.Kind.DELIVERED, occurred_at=when, data=data)
    elif kind == "opened":
        message_record_event(message=message, kind=Activity.Kind.OPENED, occurred_at=when, data=data)
    elif kind == "clicked":
        message_record_event(
            message=message,
            kind=Activity.Kind.CLICKED,
            occurred_at=when,
            data={**data, "url": payload.get("click_url")},
        )
    elif kind == "bounced" or (kind == "rejected" and payload.get("reject_reason") in ("bounced", "invalid")):
        text = f"Hard bounce: {description}".strip(": ")
        message_record_event(
            message=message,
            kind=Activity.Kind.BOUNCED,
            occurred_at=when,
            data=data,
            error_code="bounce",
            error_message=text,
        )
        borrower_mark_undeliverable(
            borrower=message.borrower,
            channel=Channel.EMAIL,
            reason=text,
            source=f"{data['esp']} {kind}",
            detail={"message": message.pk},
        )
    elif kind in ("complained", "unsubscribed") or (
        kind == "rejected" and payload.get("reject_reason") == "unsubscribed"
    ):
        if kind == "rejected":
            message_record_event(
                message=message,
                kind=Activity.Kind.FAILED,
                occurred_at=when,
                data=data,
                error_code="unsubscribed",
                error_message="The provider suppressed this address (unsubscribed).",
            )
        source = "spam complaint" if kind == "complained" else f"{data['esp']} unsubscribe"
        borrower_opt_out(
            borrower=message.borrower,
            channel=Channel.EMAIL,
            source=source,
            detail={"message": message.pk},
            message=message,
        )
    elif kind in ("rejected", "failed"):
        message_record_event(
            message=message,
            kind=Activity.Kind.FAILED,
            occurred_at=when,
            data=data,
            error_code=kind,
            error_message=description or f"The provider reported {kind}.",
        )
    # deferred, autoresponded, subscribed, unknown: nothing to record.


def _from_borrower(message: Message, sender: str) -> bool:
    """The reply comes from the address we wrote to (the borrower's own email, then or now)."""
    own = {address.strip().lower() for address in (message.to_address, message.borrower.email) if address}
    return bool(sender) and sender in own


def _message_for_inbound_email(payload: dict[str, Any]) -> Message | None:
    """The message a borrower's email reply answers, or None. Only the borrower's own address counts: the
    plus-tagged reply address and In-Reply-To/References point at a message, but message ids are sequential
    and headers are free text, so anyone could forge them to stop another lender's sequence."""
    sender = (payload.get("from") or "").strip().lower()
    if not sender:
        return None
    candidates = Message.objects.select_related("opportunity", "borrower", "loan_officer").filter(channel=Channel.EMAIL)
    pointed: list[Message] = []
    for address in payload.get("to", []) + payload.get("cc", []):
        match = PLUS_TAG.search(address)
        if match:
            pointed.extend(candidates.filter(pk=int(match.group(1))))
    for header in ("in_reply_to", "references"):
        refs = [ref.strip() for ref in (payload.get(header) or "").split() if ref.strip()]
        if refs:
            pointed.extend(candidates.filter(provider_message_id__in=refs))
    for message in pointed:
        if _from_borrower(message, sender):
            return message
    if pointed:
        ids = [message.pk for message in pointed]
        logger.warning("Inbound email names message(s) %s but comes from another address: not a reply", ids)
    return candidates.filter(to_address__iexact=sender).exclude(sent_at=None).order_by("-sent_at").first()


def process_email_inbound(payload: dict[str, Any]) -> None:
    auto = (payload.get("auto_submitted") or "no").lower()
    if auto != "no":
        return  # out-of-office and other automatic replies are not the borrower engaging
    message = _message_for_inbound_email(payload)
    if message is None:
        return
    subject = payload.get("subject") or ""
    text = payload.get("text") or ""
    if message.opportunity is None:
        reply_record_without_opportunity(
            message=message,
            channel=Channel.EMAIL,
            body=f"{subject}\n\n{text}".strip(),
            data={"from": payload.get("from", "")},
            when=_when(payload.get("timestamp")),
        )
        return
    engagement_record(
        opportunity=message.opportunity,
        kind=Activity.Kind.REPLIED,
        channel=Channel.EMAIL,
        message=message,
        body=f"{subject}\n\n{text}".strip(),
        data={"from": payload.get("from", "")},
        occurred_at=_when(payload.get("timestamp")),
    )


# ----- SMS (Twilio) ----------------------------------------------------------------------------------------


def process_sms_status(payload: dict[str, Any]) -> None:
    sid = payload.get("MessageSid") or payload.get("SmsSid") or ""
    status = (payload.get("MessageStatus") or payload.get("SmsStatus") or "").lower()
    message = (
        Message.objects.select_related("opportunity", "borrower")
        .filter(provider_message_id=sid, channel=Channel.SMS)
        .first()
    )
    if message is None:
        return
    data = {"sid": sid, "status": status}
    if status in ("queued", "accepted", "scheduled", "sending", "sent"):
        if message.sent_at is None:
            message_record_event(message=message, kind=Activity.Kind.SENT, data=data)
    elif status in ("delivered", "read"):
        message_record_event(message=message, kind=Activity.Kind.DELIVERED, data=data)
    elif status in ("undelivered", "failed"):
        code = str(payload.get("ErrorCode") or "")
        recorded = message_record_event(
            message=message,
            kind=Activity.Kind.FAILED,
            data=data,
            error_code=code or status,
            error_message=f"Twilio reported {status}" + (f" (error {code})" if code else "") + ".",
        )
        if code == "21610":  # an opt-out is honoured whatever the order of the callbacks
            borrower_opt_out(
                borrower=message.borrower, channel=Channel.SMS, source="Twilio error 21610", message=message
            )
        elif code in SMS_UNDELIVERABLE_STATUS_CODES and recorded is not None:  # not after a delivery report
            borrower_mark_undeliverable(
                borrower=message.borrower,
                channel=Channel.SMS,
                reason=SMS_UNDELIVERABLE_STATUS_CODES[code],
                source=f"Twilio status callback {code}",
                detail={"message": message.pk},
            )


def sms_keyword(body: str) -> str:
    words = (body or "").strip().upper().rstrip(".!").split()
    return words[0] if len(words) == 1 else ""


def latest_sms_message(phone: str) -> Message | None:
    """The latest SMS we sent to this number (the conversation an inbound text belongs to)."""
    return (
        Message.objects.select_related("opportunity__loan_officer", "loan_officer", "organization", "borrower")
        .filter(channel=Channel.SMS, borrower__mobile_phone=phone)
        .exclude(sent_at=None)
        .order_by("-sent_at")
        .first()
    )


def process_sms_inbound(payload: dict[str, Any]) -> None:
    phone = payload.get("From") or ""
    body = payload.get("Body") or ""
    keyword = sms_keyword(body)
    borrowers = list(Borrower.objects.filter(mobile_phone=phone)) if phone else []
    detail = {"MessageSid": payload.get("MessageSid", ""), "body": body[:160]}
    if keyword in STOP_WORDS:
        for borrower in borrowers:  # the number opted out of our sender: every borrower record with it
            borrower_opt_out(borrower=borrower, channel=Channel.SMS, source=f"SMS keyword {keyword}", detail=detail)
        return
    if keyword in START_WORDS and any(b.sms_opted_out_at for b in borrowers):
        for borrower in borrowers:
            borrower_opt_in(borrower=borrower, channel=Channel.SMS, source=f"SMS keyword {keyword}", detail=detail)
        return
    if keyword in HELP_WORDS or (keyword in START_WORDS and keyword != "YES"):
        return  # answered with TwiML; not a reply to the conversation
    message = latest_sms_message(phone)
    opportunity = message.opportunity if message is not None else None
    if opportunity is None:
        opportunity = Opportunity.objects.open().filter(borrower__in=borrowers).order_by("-pk").first()
    if opportunity is None:
        if message is not None:  # the latest text was about no opportunity (an LOS application's update)
            reply_record_without_opportunity(
                message=message,
                channel=Channel.SMS,
                body=body,
                data={"MessageSid": payload.get("MessageSid", ""), "from": phone},
                when=timezone.now(),
            )
        return
    engagement_record(
        opportunity=opportunity,
        kind=Activity.Kind.REPLIED,
        channel=Channel.SMS,
        message=message,
        body=body,
        data={"MessageSid": payload.get("MessageSid", ""), "from": phone},
    )


HANDLERS = {
    (WebhookEvent.Provider.ANYMAIL, "inbound"): process_email_inbound,
    (WebhookEvent.Provider.ANYMAIL, "*"): process_email_tracking,
    (WebhookEvent.Provider.TWILIO, "sms-status"): process_sms_status,
    (WebhookEvent.Provider.TWILIO, "sms-inbound"): process_sms_inbound,
}
