"""The SMS gateway: one small interface in front of Twilio, and a local backend for the embedded default.

``send`` returns the provider's message id or raises one of three errors the dispatcher treats differently:

* ``SmsPermanentError`` — the provider refused for good (invalid number 21211, landline 21614/21635,
  recipient opted out 21610, …): never retried; ``borrower_reason`` says whether the number itself is bad.
* ``SmsTransientError`` — the provider said "not now" (20429 rate limit, HTTP 429/5xx): retried with backoff.
* ``SmsUnknownOutcome`` — the request may or may not have reached the provider (timeout, dropped connection):
  the message is left claimed and reconciled later with ``find_sent``, never re-sent blindly.

``find_sent`` asks the provider whether the message was created since ``since``: the local backend looks its
idempotency key up; Twilio (no idempotency keys on Messages) lists recent messages to the number and compares
the body the dispatcher recorded before the call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Protocol

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from outreach.models import LocalSms

# Twilio error codes (twilio.com/docs/api/errors) that mean this number can never get our SMS.
UNDELIVERABLE_CODES = {
    21211: "Invalid phone number (Twilio 21211)",
    21614: "Not a mobile number (Twilio 21614)",
    21635: "Landline number (Twilio 21635)",
    21612: "Number cannot be reached from our sender (Twilio 21612)",
}
OPTED_OUT_CODE = 21610
TRANSIENT_CODES = {20429, 20500, 20503, 30001}


class SmsError(Exception):
    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class SmsPermanentError(SmsError):
    def __init__(self, message: str, *, code: str = "", borrower_reason: str = "", opted_out: bool = False) -> None:
        super().__init__(message, code=code)
        self.borrower_reason = borrower_reason
        self.opted_out = opted_out


class SmsTransientError(SmsError):
    pass


class SmsUnknownOutcome(SmsError):
    pass


@dataclass(frozen=True)
class SmsResult:
    sid: str
    status: str


class SmsGateway(Protocol):
    name: str

    def send(self, *, to: str, body: str, idempotency_key: str, status_callback: str = "") -> SmsResult: ...

    def find_sent(self, *, to: str, body: str, since: dt.datetime, idempotency_key: str) -> SmsResult | None: ...


def _local_sid(idempotency_key: str) -> str:
    return "LS" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


class LocalSmsBackend:
    """Stores what would be sent in LocalSms (visible in admin). The idempotency key makes sends exactly-once."""

    name = "local"

    def send(self, *, to: str, body: str, idempotency_key: str, status_callback: str = "") -> SmsResult:
        sid = _local_sid(idempotency_key)
        try:
            with transaction.atomic():
                LocalSms.objects.create(sid=sid, to=to, from_number=settings.TWILIO_FROM_NUMBER or "", body=body)
        except IntegrityError:
            pass  # the same key was sent before: the provider answers with the original message
        return SmsResult(sid=sid, status="sent")

    def find_sent(self, *, to: str, body: str, since: dt.datetime, idempotency_key: str) -> SmsResult | None:
        sid = _local_sid(idempotency_key)
        return SmsResult(sid=sid, status="sent") if LocalSms.objects.filter(sid=sid).exists() else None


class TwilioSmsBackend:
    """Twilio Programmable Messaging through the official client (timeouts set; no automatic retries)."""

    name = "twilio"

    def __init__(self) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            raise SmsError("SMS_BACKEND is twilio but TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are not set.")
        if not (settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID):
            raise SmsError("Set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID.")
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=settings.TWILIO_TIMEOUT_SECONDS),
        )

    def _sender(self) -> dict[str, str]:
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            return {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        return {"from_": settings.TWILIO_FROM_NUMBER}

    def send(self, *, to: str, body: str, idempotency_key: str, status_callback: str = "") -> SmsResult:
        from twilio.base.exceptions import TwilioRestException

        kwargs: dict[str, str] = {"to": to, "body": body, **self._sender()}
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise classify_twilio_error(exc) from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise SmsUnknownOutcome(f"No answer from Twilio: {exc}") from exc
        return SmsResult(sid=message.sid, status=message.status or "queued")

    def find_sent(self, *, to: str, body: str, since: dt.datetime, idempotency_key: str) -> SmsResult | None:
        """The message we recorded before the call, if Twilio created it: same number, same body, after the claim."""
        from twilio.base.exceptions import TwilioRestException

        filters: dict[str, str] = {"to": to}
        if settings.TWILIO_FROM_NUMBER and not settings.TWILIO_MESSAGING_SERVICE_SID:
            filters["from_"] = settings.TWILIO_FROM_NUMBER
        try:
            recent = self.client.messages.list(limit=20, **filters)
        except (TwilioRestException, requests.RequestException) as exc:
            raise SmsTransientError(f"Could not list Twilio messages: {exc}") from exc
        window_start = since - dt.timedelta(minutes=2)
        for message in recent:
            created = message.date_created
            outbound = (message.direction or "").startswith("outbound")
            if created is not None and created >= window_start and outbound and (message.body or "") == body:
                return SmsResult(sid=message.sid, status=message.status or "sent")
        return None


def classify_twilio_error(exc: object) -> SmsError:
    code = getattr(exc, "code", None)
    status = getattr(exc, "status", 0) or 0
    text = getattr(exc, "msg", "") or str(exc)
    code_str = str(code) if code is not None else str(status)
    if code == OPTED_OUT_CODE:
        return SmsPermanentError(text, code=code_str, opted_out=True)
    if code in UNDELIVERABLE_CODES:
        return SmsPermanentError(text, code=code_str, borrower_reason=UNDELIVERABLE_CODES[code])
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return SmsTransientError(text, code=code_str)
    return SmsPermanentError(text, code=code_str)


BACKENDS = {"local": LocalSmsBackend, "twilio": TwilioSmsBackend}


def get_sms_gateway() -> SmsGateway:
    """The configured gateway: SMS_BACKEND is "local", "twilio" or a dotted path to a class."""
    name = settings.SMS_BACKEND or "local"
    cls = BACKENDS.get(name) or import_string(name)
    return cls()
