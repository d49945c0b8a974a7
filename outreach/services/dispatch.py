"""The outbox dispatcher: claim due messages, re-check everything, send, record — each message exactly once.

One message goes through these states (every transition is a conditional UPDATE on the row):

* scheduled → sending: the claim (``messages_claim``).
* sending → cancelled (enrollment stopped, opportunity in application/won/lost/archived), suppressed (no
  consent, opted out, do-not-contact, undeliverable) or back to scheduled (quiet hours: next 8:00 local; stale
  rate: an hour later; paused).
* sending → the hand-over write, one message at a time right before its provider call (what we are about to
  send, attempts + 1, ``handed_at``; committed) → provider call → sent, or scheduled with backoff (transient
  error), or failed (permanent error), or it stays sending (the provider never answered).

A row left in ``sending`` (the worker died, or the provider never answered) is never re-sent blindly. After
``STUCK_AFTER`` the reconciler looks at ``handed_at``: empty means the message was never handed to a provider
(the worker died between the claim and this message's turn), so it is re-queued and sent once. Set means the
provider may have it: SMS backends look the message up (the local backend by its idempotency key; Twilio, which
has no idempotency keys, by listing recent messages to the number and comparing the recorded body) and the row
becomes ``sent`` if found, ``scheduled`` again if the provider confirms nothing went out. Email providers cannot
be asked, so such an email becomes ``failed`` with error code ``unconfirmed`` (shown in admin and on the
timeline for review; a later ESP event proving delivery promotes it to sent). A worker killed mid-batch so
strands at most the one email it was handing over; nothing is sent twice and nothing is lost silently.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import time
import uuid
from dataclasses import asdict, dataclass, field
from email.utils import formataddr, make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from core.choices import Channel, term_bucket
from core.models import Organization
from loans.models import Borrower, Loan
from outreach.models import OPPORTUNITY_BOUND_KINDS, PRERENDERED_KINDS, QUOTING_KINDS, Enrollment, Message
from outreach.rendering import Links, Rendered, TemplateError, absolute, links_for, render_step, token_context
from outreach.sendwindow import send_wait, window_end_for, zone_for, zones_for
from outreach.services.consent import borrower_mark_undeliverable, borrower_opt_out
from outreach.services.engagement import opportunities_mark_contacted
from outreach.services.enrollments import STOP_STAGES, enrollment_stop, enrollments_complete_finished
from outreach.services.recording import (
    MessageRecorder,
    idempotency_key,
)
from outreach.sms import SmsError, SmsGateway, SmsPermanentError, SmsTransientError, SmsUnknownOutcome, get_sms_gateway
from pipeline.models import Opportunity
from rates.selectors import MarketRate, is_stale, is_stale_date, market_rates

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
STALE_RATE_RECHECK = dt.timedelta(hours=1)


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    held: int = 0
    suppressed: int = 0
    cancelled: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    reconciled_sent: int = 0
    requeued: int = 0
    unconfirmed: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        return data


# The hand-over write: what is about to be sent and that it is being handed to the provider, committed on its
# own right before the provider call (one statement, no ORM overhead on the hot path).
HAND_OVER_SQL = (
    f"UPDATE {Message._meta.db_table} SET to_address = %s, from_address = %s, subject = %s, body = %s, "
    "attempts = %s, hold_reason = '', handed_at = %s, updated_at = %s "
    "WHERE id = %s AND claim_token = %s AND status = 'sending' AND handed_at IS NULL"
)


@dataclass
class Prepared:
    message: Message
    rendered: Rendered
    officer: Any
    links: Links


def suppression_reason(borrower: Borrower, channel: str) -> str:
    """Why the borrower cannot get this channel right now, or "" when they can."""
    if borrower.can_receive(channel):
        return ""
    if borrower.do_not_contact:
        return "Borrower is marked do-not-contact."
    if channel == Channel.EMAIL:
        checks = [
            (not borrower.email, "No email address."),
            (not borrower.email_consent, "No email marketing consent."),
            (bool(borrower.email_opted_out_at), "Borrower unsubscribed from email."),
            (bool(borrower.email_undeliverable_reason), f"Email undeliverable: {borrower.email_undeliverable_reason}"),
        ]
    else:
        checks = [
            (not borrower.mobile_phone, "No mobile number."),
            (not borrower.sms_consent, "No SMS express written consent."),
            (bool(borrower.sms_opted_out_at), "Borrower opted out of SMS."),
            (bool(borrower.sms_undeliverable_reason), f"SMS undeliverable: {borrower.sms_undeliverable_reason}"),
        ]
    return next((text for failed, text in checks if failed), "Not allowed on this channel.")


SKIP_LABELS = (
    ("do-not-contact", "Skipped: do not contact"),
    ("consent", "Skipped: no consent"),
    ("opted out", "Skipped: opted out"),
    ("unsubscribed", "Skipped: opted out"),
    ("undeliverable", "Skipped: undeliverable"),
    ("no email", "Skipped: no email address"),
    ("no mobile", "Skipped: no mobile number"),
)


def planned_skip(borrower: Borrower, channel: str) -> tuple[str, str]:
    """(short label, reason) when a scheduled message will not go out because of the borrower's consent or
    address (the dispatcher suppresses it on its due date), else ("", "")."""
    reason = suppression_reason(borrower, channel)
    if not reason:
        return "", ""
    lowered = reason.lower()
    label = next((text for key, text in SKIP_LABELS if key in lowered), "Skipped")
    return label, reason


def messages_claim(*, now: dt.datetime | None = None, limit: int = BATCH_SIZE) -> tuple[str, list[int]]:
    """Claim up to ``limit`` due rows of active enrollments: one conditional UPDATE (scheduled → sending).

    Two dispatchers racing for the same rows each get a disjoint set: the UPDATE re-checks ``status`` per row.
    Uses the partial index outreach_msg_due_idx.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    candidates = list(
        Message.objects.filter(status=Message.Status.SCHEDULED, due_at__lte=now)
        .filter(Q(enrollment__status=Enrollment.Status.ACTIVE) | ~Q(kind=Message.Kind.SEQUENCE))
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return token, []
    Message.objects.filter(pk__in=candidates, status=Message.Status.SCHEDULED).update(
        status=Message.Status.SENDING, claim_token=token, claimed_at=now, updated_at=now
    )
    claimed = list(Message.objects.filter(pk__in=candidates, claim_token=token).values_list("pk", flat=True))
    return token, claimed


class Dispatcher(MessageRecorder):
    """One pass over the outbox. Providers (SMS gateway, email connection) are created once per pass."""

    def __init__(self, *, sms_gateway: SmsGateway | None = None, email_connection: Any = None) -> None:
        self._sms = sms_gateway
        self._email = email_connection
        self._rates: dict[tuple[int, dt.date], dict[tuple[str, int], MarketRate]] = {}
        self.stats = DispatchStats()

    @property
    def sms(self) -> SmsGateway:
        if self._sms is None:
            self._sms = get_sms_gateway()
        return self._sms

    @property
    def email(self) -> Any:
        if self._email is None:
            self._email = get_connection()
        return self._email

    # ----- the pass ------------------------------------------------------------------------------------

    def run(self, *, limit: int | None = None, time_budget: float | None = 50.0) -> DispatchStats:
        started = time.monotonic()
        self.reconcile_stuck()
        try:
            while limit is None or self.stats.claimed < limit:
                if time_budget is not None and time.monotonic() - started > time_budget:
                    break
                size = BATCH_SIZE if limit is None else min(BATCH_SIZE, limit - self.stats.claimed)
                token, ids = messages_claim(limit=size)
                if not ids:
                    break
                self.stats.claimed += len(ids)
                self._process_batch(token=token, ids=ids)
        finally:
            if self._email is not None:
                try:
                    self._email.close()
                except Exception:  # closing an idle connection must not hide the pass's result
                    logger.exception("Closing the email connection failed")
        self.stats.seconds = round(time.monotonic() - started, 3)
        return self.stats

    # ----- one claimed batch ---------------------------------------------------------------------------

    def _process_batch(self, *, token: str, ids: list[int]) -> None:
        """Load the claimed rows once, check and render each, re-check the whole batch against the database right
        before sending (one query), then message by message: hand-over write, provider call, record."""
        now = timezone.now()
        loaded = list(
            Message.objects.select_related(
                "enrollment",
                "step",
                "borrower",
                "organization",
                "opportunity__loan",
                "opportunity__loan_officer",
                "opportunity__borrower",
                "loan_officer",
            )
            .filter(pk__in=ids, claim_token=token, status=Message.Status.SENDING)
            .order_by("due_at", "pk")
        )
        ready: list[Prepared] = []
        for message in loaded:
            try:
                prepared = self._prepare(message, token, now=now)
            except Exception as exc:  # one message's unexpected error never stops the pass
                self._release_after_error(message, token, exc)
                continue
            if prepared is not None:
                ready.append(prepared)
        if ready:
            blocked = self._changed_since_load([p.message.pk for p in ready])
            for prepared in ready:
                if prepared.message.pk in blocked:
                    # Opted out, stopped or closed while we were preparing: the next pass classifies it.
                    self._hold(prepared.message, token, due_at=now, reason="Changed just before sending; re-checking.")
                    continue
                if self._hand_over(prepared.message, token):
                    self._deliver_isolated(prepared, token)
        self._after_batch(loaded, now=now)

    def _hand_over(self, message: Message, token: str) -> bool:
        """Record, committed, that this message is about to go to the provider (and what it is), right before
        the call. False if the claim was lost meanwhile (then it is not sent)."""
        now = timezone.now()
        message.attempts += 1
        row = (message.to_address, message.from_address, message.subject, message.body, message.attempts)
        with connection.cursor() as cursor:
            cursor.execute(HAND_OVER_SQL, [*row, now, now, message.pk, token])
            handed = cursor.rowcount == 1
        if handed:
            message.handed_at = now
        else:
            logger.warning("Message %s lost its claim before it was handed over; not sent", message.pk)
        return handed

    def _changed_since_load(self, ids: list[int]) -> set[int]:
        """The send-time re-check in one query: rows whose enrollment, opportunity or consent no longer allow it."""
        email_blocked = Q(channel=Channel.EMAIL) & (
            Q(borrower__email="")
            | Q(borrower__email_consent=False)
            | Q(borrower__email_opted_out_at__isnull=False)
            | ~Q(borrower__email_undeliverable_reason="")
        )
        sms_blocked = Q(channel=Channel.SMS) & (
            Q(borrower__mobile_phone="")
            | Q(borrower__sms_consent=False)
            | Q(borrower__sms_opted_out_at__isnull=False)
            | ~Q(borrower__sms_undeliverable_reason="")
        )
        blocked = (
            (Q(kind=Message.Kind.SEQUENCE) & ~Q(enrollment__status=Enrollment.Status.ACTIVE))
            | Q(kind__in=OPPORTUNITY_BOUND_KINDS, opportunity__stage__in=list(STOP_STAGES))
            | Q(kind__in=QUOTING_KINDS, opportunity__qualifies=False)
            | (Q(kind__in=OPPORTUNITY_BOUND_KINDS) & ~Q(opportunity__loan__status=Loan.Status.ACTIVE))
            | Q(borrower__do_not_contact=True)
            | email_blocked
            | sms_blocked
        )
        return set(Message.objects.filter(pk__in=ids).filter(blocked).values_list("pk", flat=True))

    def _after_batch(self, loaded: list[Message], *, now: dt.datetime) -> None:
        sent = [m for m in loaded if m.status == Message.Status.SENT and m.sent_at is not None]
        if sent:
            opportunity_ids = {m.opportunity_id for m in sent if m.opportunity_id is not None}
            Opportunity.objects.filter(pk__in=opportunity_ids).update(last_contacted_at=now)
            opportunities_mark_contacted(opportunity_ids=opportunity_ids, at=now)
        enrollments_complete_finished(enrollment_ids={m.enrollment_id for m in loaded if m.enrollment_id})

    def _release_after_error(self, message: Message, token: str, exc: Exception) -> None:
        logger.exception("Preparing message %s failed", message.pk, exc_info=exc)
        self._hold(
            message,
            token,
            due_at=timezone.now() + dt.timedelta(minutes=5),
            reason=f"Internal error, retrying in 5 minutes: {type(exc).__name__}",
        )
        self.stats.held -= 1
        self.stats.extra["errors"] = self.stats.extra.get("errors", 0) + 1

    def _deliver_isolated(self, prepared: Prepared, token: str) -> None:
        """After the provider call may have happened, an unexpected error leaves the row claimed: the reconciler
        asks the provider later (it may have been sent). It never stops the pass."""
        try:
            if prepared.message.channel == Channel.SMS:
                self._send_sms(prepared.message, token, prepared.rendered)
            else:
                self._send_email(
                    prepared.message, token, prepared.rendered, officer=prepared.officer, links=prepared.links
                )
        except Exception:
            logger.exception("Sending message %s failed; left for reconciliation", prepared.message.pk)
            self.stats.extra["errors"] = self.stats.extra.get("errors", 0) + 1

    def _prepare(self, message: Message, token: str, *, now: dt.datetime) -> Prepared | None:
        """Every check that can stop, hold or suppress the message; then render it. None: handled here.

        A pre-rendered message (digest, lock alert, status update, campaign; no enrollment) was rendered when it
        was queued: it gets the same consent, officer and send-window checks, and those of the opportunity's that
        apply to its kind (``OPPORTUNITY_BOUND_KINDS``, ``QUOTING_KINDS``). A digest is cancelled rather than held
        when its figures lapse (next month's quotes fresh ones). A lock alert or status update of an LOS
        application has no opportunity: it is sent in the name of ``message.loan_officer``, with only the
        unsubscribe link."""
        enrollment, opportunity, borrower = message.enrollment, message.opportunity, message.borrower
        organization = message.organization
        prerendered = message.kind in PRERENDERED_KINDS
        bound = message.kind in OPPORTUNITY_BOUND_KINDS
        quoting = message.kind in QUOTING_KINDS

        if enrollment is not None and enrollment.status in (Enrollment.Status.STOPPED, Enrollment.Status.COMPLETED):
            self._close(
                message, token, Message.Status.CANCELLED, f"Sequence {enrollment.get_status_display().lower()}."
            )
            self.stats.cancelled += 1
            return None
        if enrollment is not None and enrollment.status == Enrollment.Status.PAUSED:
            self._hold(message, token, due_at=message.due_at, reason="Sequence paused.")
            return None
        if bound and opportunity.stage in STOP_STAGES:
            if enrollment is not None:
                enrollment_stop(enrollment=enrollment, reason=STOP_STAGES[opportunity.stage])
            self._close(message, token, Message.Status.CANCELLED, f"Opportunity is {opportunity.get_stage_display()}.")
            self.stats.cancelled += 1
            return None
        if bound and opportunity.loan.status != Loan.Status.ACTIVE:
            if enrollment is not None:
                enrollment_stop(enrollment=enrollment, reason=Enrollment.StopReason.CLOSED)
            self._close(message, token, Message.Status.CANCELLED, "The loan is no longer active.")
            self.stats.cancelled += 1
            return None
        figures = self._figures_reason(opportunity=opportunity, organization=organization, now=now) if quoting else ""
        if figures and prerendered:
            self._close(message, token, Message.Status.CANCELLED, figures)
            self.stats.cancelled += 1
            return None
        if figures:
            # Never advertise savings that today's match no longer finds; the sequence resumes if it qualifies again.
            self._hold(message, token, due_at=now + STALE_RATE_RECHECK, reason=figures)
            return None
        reason = suppression_reason(borrower, message.channel)
        if reason:
            self._close(message, token, Message.Status.SUPPRESSED, reason)
            self.stats.suppressed += 1
            return None
        # An opportunity-less message (an LOS application's alert) is sent in the name of its own officer.
        officer = message.loan_officer or (opportunity.loan_officer if opportunity is not None else None)
        if officer is None or not officer.is_active or not officer.email:
            self._fail(message, token, code="no_officer", text="No active loan officer to send in the name of.")
            return None
        stale = (
            "" if prerendered else self._stale_rate_reason(opportunity=opportunity, organization=organization, now=now)
        )
        if stale:
            self._hold(message, token, due_at=now + STALE_RATE_RECHECK, reason=stale)
            return None
        zones = zones_for(borrower=borrower, organization=organization)
        wait = send_wait(when=now, zones=zones, end=window_end_for(borrower), skip_sundays=organization.skip_sundays)
        if wait is not None:  # quiet hours, a federal holiday or a Sunday where the borrower is
            self._hold(message, token, due_at=wait.until, reason=wait.reason)
            return None

        links = links_for(message_id=message.pk, opportunity_id=message.opportunity_id, borrower_id=borrower.pk)
        if prerendered:
            rendered = Rendered(
                channel=message.channel, subject=message.subject, text=message.body, html=message.body_html
            )
        else:
            try:
                rendered = render_step(
                    channel=message.channel,
                    subject_template=message.step.subject_template,
                    body_template=message.step.body_template,
                    context=token_context(
                        opportunity=opportunity,
                        borrower=borrower,
                        officer=officer,
                        organization=organization,
                        links=links,
                    ),
                    organization=organization,
                )
            except TemplateError as exc:
                self._fail(message, token, code="template", text=f"The step template does not render: {exc}")
                return None
        message.to_address = borrower.email if message.channel == Channel.EMAIL else borrower.mobile_phone
        message.from_address = (
            officer.email if message.channel == Channel.EMAIL else (settings.TWILIO_FROM_NUMBER or "")
        )
        message.subject = rendered.subject[:250]
        message.body = rendered.text
        return Prepared(message=message, rendered=rendered, officer=officer, links=links)

    def _figures_reason(self, *, opportunity: Opportunity, organization: Organization, now: dt.datetime) -> str:
        """Why the opportunity's savings may not be quoted now: it no longer qualifies, or its figures are older
        than the staleness limit (the match has not run on today's rates)."""
        if not opportunity.qualifies:
            return "No longer qualifies at today's rate: waits until a match finds it again."
        today = now.astimezone(zone_for(borrower=opportunity.borrower, organization=organization)).date()
        if is_stale_date(opportunity.market_rate_date, organization=organization, as_of=today):
            return f"Savings were computed on the {opportunity.market_rate_date:%Y-%m-%d} rate: waits for a new match."
        return ""

    def _stale_rate_reason(self, *, opportunity: Opportunity, organization: Organization, now: dt.datetime) -> str:
        today = now.astimezone(zone_for(borrower=opportunity.borrower, organization=organization)).date()
        key = (organization.pk, today)
        if key not in self._rates:
            self._rates[key] = market_rates(organization=organization, as_of=today)
        bucket = term_bucket(opportunity.loan.term_months)
        rate = self._rates[key].get((opportunity.product_type, bucket))
        if not is_stale(rate, organization=organization, as_of=today):
            return ""
        product = f"{opportunity.get_product_type_display()} {bucket // 12}-year"
        if rate is None:
            return f"Waiting for rates: no market rate for {product}."
        return f"Waiting for fresh rates: {product} rate is from {rate.date:%Y-%m-%d}."

    # ----- providers ----------------------------------------------------------------------------------

    def _send_sms(self, message: Message, token: str, rendered: Rendered) -> None:
        try:
            result = self.sms.send(
                to=message.borrower.mobile_phone,
                body=rendered.text,
                idempotency_key=idempotency_key(message),
                status_callback=absolute(reverse("outreach:twilio_status")),
            )
        except SmsPermanentError as exc:
            self._fail(message, token, code=exc.code, text=str(exc))
            if exc.opted_out:
                borrower_opt_out(
                    borrower=message.borrower,
                    channel=Channel.SMS,
                    source=f"Twilio error {exc.code}",
                    detail={"message": message.pk},
                    message=message,
                )
            elif exc.borrower_reason:
                borrower_mark_undeliverable(
                    borrower=message.borrower,
                    channel=Channel.SMS,
                    reason=exc.borrower_reason,
                    source=f"Twilio error {exc.code}",
                    detail={"message": message.pk},
                )
            return
        except SmsTransientError as exc:
            self._retry(message, token, code=exc.code, text=str(exc))
            return
        except SmsUnknownOutcome as exc:
            self._unknown(message, token, text=str(exc))
            return
        except SmsError as exc:  # misconfiguration: keep the message, say why
            self._retry(message, token, code="config", text=str(exc))
            return
        self._record_sent(message, token, provider_id=result.sid)

    def _build_email(
        self, message: Message, rendered: Rendered, *, officer: Any, links: Links
    ) -> EmailMultiAlternatives:
        borrower = message.borrower
        reply_to = [officer.email]
        inbound = settings.OUTREACH_INBOUND_EMAIL
        if inbound and "@" in inbound:
            local, domain = inbound.split("@", 1)
            reply_to.append(f"{local}+r{message.pk}@{domain}")
        headers = {
            "List-Unsubscribe": f"<{links.unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        if not hasattr(self.email, "esp_name"):  # non-anymail backends: our own Message-ID is the provider id
            headers["Message-ID"] = make_msgid(idstring=f"outreach{message.pk}", domain="refiapp.local")
        email = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=formataddr((officer.display_name, officer.email)),
            to=[formataddr((borrower.full_name, borrower.email))],
            reply_to=reply_to,
            headers=headers,
            connection=self.email,
        )
        email.attach_alternative(rendered.html, "text/html")
        email.metadata = {"outreach_message": str(message.pk)}  # type: ignore[attr-defined]
        email.tags = ["outreach"]  # type: ignore[attr-defined]  (several ESPs allow one tag only)
        return email

    def _send_email(self, message: Message, token: str, rendered: Rendered, *, officer: Any, links: Links) -> None:
        from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused

        email = self._build_email(message, rendered, officer=officer, links=links)
        try:
            email.send()
        except AnymailRecipientsRefused as exc:
            self._bounce_at_send(message, token, text=str(exc))
            return
        except AnymailAPIError as exc:
            status = getattr(exc, "status_code", None)
            if status is None:
                self._unknown(message, token, text=str(exc))
            elif status == 429 or status >= 500:
                self._retry(message, token, code=str(status), text=str(exc))
            else:
                self._fail(message, token, code=str(status), text=str(exc))
            return
        except AnymailError as exc:  # refused before any request (unsupported feature, bad address, settings)
            self._fail(message, token, code="esp_config", text=str(exc))
            return
        except smtplib.SMTPRecipientsRefused as exc:
            self._bounce_at_send(message, token, text=str(exc))
            return
        except (smtplib.SMTPException, OSError) as exc:
            self._retry(message, token, code="smtp", text=str(exc))
            return
        status = getattr(email, "anymail_status", None)
        if status is not None and status.status and status.status <= {"rejected", "invalid"}:
            self._bounce_at_send(message, token, text=f"Rejected by the provider ({', '.join(sorted(status.status))}).")
            return
        provider_id = str(status.message_id) if status is not None and status.message_id is not None else ""
        self._record_sent(message, token, provider_id=provider_id or email.extra_headers.get("Message-ID", ""))


def dispatch_due_messages(
    *,
    limit: int | None = None,
    time_budget: float | None = 50.0,
    sms_gateway: SmsGateway | None = None,
    email_connection: Any = None,
) -> DispatchStats:
    """One dispatcher pass (the django-q2 task and ``manage.py dispatch_outreach`` call this)."""
    return Dispatcher(sms_gateway=sms_gateway, email_connection=email_connection).run(
        limit=limit, time_budget=time_budget
    )


@transaction.atomic
def message_requeue(*, message: Message, actor: Any = None) -> Message:
    """A manager re-queues a failed message (e.g. an ``unconfirmed`` email they checked was never sent)."""
    if message.status != Message.Status.FAILED:
        raise ValueError("Only a failed message can be re-queued.")
    if message.enrollment is None:  # pre-rendered (digest, alert, campaign): no sequence to revive
        pass
    elif message.enrollment.status == Enrollment.Status.STOPPED:
        raise ValueError("The sequence was stopped; start a new enrollment instead.")
    now = timezone.now()
    if message.enrollment is not None and message.enrollment.status == Enrollment.Status.COMPLETED:
        try:
            with transaction.atomic():
                Enrollment.objects.filter(pk=message.enrollment_id).update(
                    status=Enrollment.Status.ACTIVE, stopped_at=None
                )
        except IntegrityError as exc:
            raise ValueError("The opportunity has another running sequence.") from exc
    Message.objects.filter(pk=message.pk, status=Message.Status.FAILED).update(
        status=Message.Status.SCHEDULED,
        due_at=now,
        claim_token="",
        claimed_at=None,
        handed_at=None,
        attempts=0,
        hold_reason="Re-queued by a manager.",
        updated_at=now,
    )
    message.refresh_from_db()
    return message
