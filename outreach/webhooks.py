"""Twilio webhooks: status callbacks and inbound SMS. (anymail's own views handle email; see receivers.py.)

Each request is validated (X-Twilio-Signature against PUBLIC_BASE_URL + path, fail closed), stored once
(deduplicated on MessageSid+MessageStatus / MessageSid), then processed. Processing errors are stored on the
event and retried by the schedule; Twilio always gets its answer.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from outreach.models import WebhookEvent
from outreach.services.webhooks import (
    HELP_WORDS,
    START_WORDS,
    STOP_WORDS,
    latest_sms_message,
    sms_keyword,
    webhook_event_process,
    webhook_event_store,
)

logger = logging.getLogger(__name__)


def twilio_signature_valid(request: HttpRequest) -> bool:
    from twilio.request_validator import RequestValidator

    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        if not token:
            logger.error("TWILIO_AUTH_TOKEN is not set: Twilio webhooks are refused")
        return False
    url = f"{settings.PUBLIC_BASE_URL}{request.get_full_path()}"
    return RequestValidator(token).validate(url, request.POST, signature)


def _twiml(text: str = "") -> HttpResponse:
    from twilio.twiml.messaging_response import MessagingResponse

    response = MessagingResponse()
    if text:
        response.message(text)
    return HttpResponse(str(response), content_type="application/xml")


def keyword_reply(*, body: str, phone: str) -> str:
    """The TwiML answer to STOP / START / HELP (carrier rules: one confirmation, no marketing)."""
    keyword = sms_keyword(body)
    message = latest_sms_message(phone) if keyword else None
    org = message.organization.name if message else "our"
    officer = None
    if message is not None:  # the officer the text came from (an LOS application's update has no opportunity)
        officer = message.loan_officer or (message.opportunity.loan_officer if message.opportunity else None)
    if keyword in STOP_WORDS:
        return f"You're unsubscribed from {org} texts and will get no more messages. Reply START to resubscribe."
    if keyword in START_WORDS and keyword != "YES":
        return f"You're resubscribed to {org} texts. Msg & data rates may apply. Reply HELP for help, STOP to opt out."
    if keyword in HELP_WORDS:
        contact = f" Questions? Call {officer.display_name} at {officer.phone}." if officer and officer.phone else ""
        return f"{org} mortgage rate updates.{contact} Msg & data rates may apply. Reply STOP to opt out."
    return ""


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not twilio_signature_valid(request):
        return HttpResponseForbidden("Invalid signature")
    sid = request.POST.get("MessageSid") or request.POST.get("SmsSid")
    status = request.POST.get("MessageStatus") or request.POST.get("SmsStatus")
    if not sid or not status:
        return HttpResponseBadRequest("MessageSid and MessageStatus are required")
    event, created = webhook_event_store(
        provider=WebhookEvent.Provider.TWILIO,
        kind="sms-status",
        event_id=f"{sid}:{status}",
        payload=request.POST.dict(),
    )
    if created:
        webhook_event_process(event_id=event.pk)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not twilio_signature_valid(request):
        return HttpResponseForbidden("Invalid signature")
    sid = request.POST.get("MessageSid") or request.POST.get("SmsSid")
    if not sid:
        return HttpResponseBadRequest("MessageSid is required")
    event, created = webhook_event_store(
        provider=WebhookEvent.Provider.TWILIO, kind="sms-inbound", event_id=sid, payload=request.POST.dict()
    )
    if created:
        # Processed now, not queued: an opt-out must be in effect before the dispatcher's next send.
        webhook_event_process(event_id=event.pk)
    return _twiml(keyword_reply(body=request.POST.get("Body", ""), phone=request.POST.get("From", "")))
