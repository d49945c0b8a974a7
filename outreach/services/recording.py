"""How the dispatcher records each outcome on the message row (sent, held, failed, retried, unknown) and how it
reconciles rows left in ``sending`` with the provider (see ``outreach.services.dispatch`` for the state machine).

Every write is a conditional UPDATE on the claimed row (``_claimed``): a row another worker or the reconciler has
moved on is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.choices import Channel
from outreach.models import Message
from outreach.services.consent import borrower_mark_undeliverable
from outreach.services.engagement import opportunities_mark_contacted
from outreach.sms import SmsError, SmsGateway
from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import activity_record

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (60, 300, 1800, 7200)  # after provider attempts 1, 2, 3, 4
STUCK_AFTER = dt.timedelta(minutes=10)
UNCONFIRMED = "unconfirmed"


def sent_text(message: Message) -> str:
    """The "sent" timeline entry's text."""
    if message.kind == Message.Kind.DIGEST:
        return f"Monthly digest ({message.digest_month:%B %Y}) sent to {message.to_address}."
    if message.kind != Message.Kind.SEQUENCE:
        return f"{message.get_kind_display()} ({message.get_channel_display()}) sent to {message.to_address}."
    return f"Day {message.step.day_offset} {message.get_channel_display()} sent to {message.to_address}."


def idempotency_key(message: Message | int) -> str:
    return f"refiapp-outreach-message-{getattr(message, 'pk', message)}"


# PostgreSQL: the row's move to sent and its "sent" timeline entry in one statement (same effect as the ORM path
# used on SQLite: UPDATE … WHERE claimed, then INSERT the Activity, in one transaction).
RECORD_SENT_SQL = f"""
WITH sent AS (
    UPDATE {Message._meta.db_table}
       SET status = 'sent', provider_message_id = %s, sent_at = %s, error_code = '', error_message = '',
           hold_reason = '', updated_at = %s
     WHERE id = %s AND claim_token = %s AND status = 'sending'
 RETURNING id, organization_id, opportunity_id, borrower_id, channel
)
INSERT INTO {Activity._meta.db_table}
       (organization_id, opportunity_id, borrower_id, kind, channel, message_id, from_stage, to_stage, body, data,
        occurred_at, created_at)
SELECT organization_id, opportunity_id, borrower_id, %s, channel, id, '', '', %s, %s::jsonb, %s, %s FROM sent
"""


class MessageRecorder:
    """The recording half of the Dispatcher (it also owns ``stats`` and ``sms``)."""

    stats: Any
    sms: SmsGateway

    # ----- recording -----------------------------------------------------------------------------------

    def _claimed(self, message: Message, token: str) -> Any:
        return Message.objects.filter(pk=message.pk, claim_token=token, status=Message.Status.SENDING)

    def _record_sent(self, message: Message, token: str, *, provider_id: str) -> None:
        """Move the row to sent with the provider's id, and write its one "sent" timeline entry, atomically."""
        now = timezone.now()
        body = sent_text(message)
        data = {"provider_message_id": provider_id}
        if message.subject:
            data["subject"] = message.subject  # the timeline shows it (the pipeline keeps no link to Message)
        if connection.vendor == "postgresql":
            # One statement, one round trip: the UPDATE and the INSERT commit together or not at all.
            with connection.cursor() as cursor:
                cursor.execute(
                    RECORD_SENT_SQL,
                    [
                        provider_id[:100],
                        now,
                        now,
                        message.pk,
                        token,
                        Activity.Kind.SENT,
                        body,
                        json.dumps(data),
                        now,
                        now,
                    ],
                )
                recorded = cursor.rowcount == 1
        else:
            with transaction.atomic():
                recorded = bool(
                    self._claimed(message, token).update(
                        status=Message.Status.SENT,
                        provider_message_id=provider_id[:100],
                        sent_at=now,
                        error_code="",
                        error_message="",
                        hold_reason="",
                        updated_at=now,
                    )
                )
                if recorded:
                    self._after_sent(message, now=now, data=data)
        if not recorded:
            logger.error("Message %s was sent (%s) but its claim was lost", message.pk, provider_id)
            return
        message.sent_at, message.status, message.provider_message_id = now, Message.Status.SENT, provider_id
        self.stats.sent += 1

    def _after_sent(self, message: Message, *, now: dt.datetime, data: dict[str, Any]) -> None:
        """The one "sent" timeline entry, in the same transaction as the row's move to sent (an opportunity-less
        message's entry has no opportunity: it is the organization's and the borrower's).

        Written directly (not through activity_record's full_clean): every value is a constant of this code or
        copied from the row, and the database constraints still check them. On the hot path the validation
        queries would cost more than the send itself.
        """
        Activity.objects.create(
            organization_id=message.organization_id,
            opportunity_id=message.opportunity_id,
            borrower_id=message.borrower_id,
            kind=Activity.Kind.SENT,
            channel=message.channel,
            message_id=message.pk,
            body=sent_text(message),
            data=data,
            occurred_at=now,
        )

    def _close(self, message: Message, token: str, status: str, reason: str) -> None:
        self._claimed(message, token).update(
            status=status, error_message=reason, hold_reason="", claim_token="", updated_at=timezone.now()
        )

    def _hold(self, message: Message, token: str, *, due_at: dt.datetime, reason: str) -> None:
        self._claimed(message, token).update(
            status=Message.Status.SCHEDULED,
            due_at=due_at,
            hold_reason=reason[:200],
            claim_token="",
            claimed_at=None,
            handed_at=None,
            updated_at=timezone.now(),
        )
        self.stats.held += 1

    def _fail(self, message: Message, token: str, *, code: str, text: str, kind: str = Activity.Kind.FAILED) -> bool:
        with transaction.atomic():
            if not self._claimed(message, token).update(
                status=Message.Status.FAILED,
                error_code=code[:20],
                error_message=text,
                hold_reason="",
                claim_token="",
                updated_at=timezone.now(),
            ):
                return False
            activity_record(
                opportunity=message.opportunity,
                kind=kind,
                channel=message.channel,
                message=message,
                body=text[:2000],
                data={"error_code": code},
            )
        if code == UNCONFIRMED:
            self.stats.unconfirmed += 1
        else:
            self.stats.failed += 1
        return True

    def _bounce_at_send(self, message: Message, token: str, *, text: str) -> None:
        self._fail(message, token, code="rejected", text=text, kind=Activity.Kind.BOUNCED)
        borrower_mark_undeliverable(
            borrower=message.borrower,
            channel=Channel.EMAIL,
            reason="Address rejected by the email provider",
            source="ESP rejection at send",
            detail={"message": message.pk, "error": text[:500]},
        )

    def _retry(self, message: Message, token: str, *, code: str, text: str) -> None:
        if message.attempts >= MAX_ATTEMPTS:
            self._fail(message, token, code=code, text=f"Gave up after {message.attempts} attempts: {text}")
            return
        delay = BACKOFF_SECONDS[min(message.attempts, len(BACKOFF_SECONDS)) - 1]
        self._claimed(message, token).update(
            status=Message.Status.SCHEDULED,
            due_at=timezone.now() + dt.timedelta(seconds=delay),
            claim_token="",
            claimed_at=None,
            handed_at=None,
            error_code=code[:20],
            error_message=text,
            hold_reason=f"Retry {message.attempts + 1} of {MAX_ATTEMPTS} after a provider error ({code})."[:200],
            updated_at=timezone.now(),
        )
        self.stats.retried += 1

    def _unknown(self, message: Message, token: str, *, text: str) -> None:
        """The provider may have the message: keep it claimed for the reconciler, never retry blindly."""
        self._claimed(message, token).update(
            error_code="no_answer",
            error_message=text,
            hold_reason="No answer from the provider; checking with it before any retry.",
            updated_at=timezone.now(),
        )
        self.stats.unknown += 1

    # ----- reconciliation -------------------------------------------------------------------------------

    def reconcile_stuck(self, *, now: dt.datetime | None = None, limit: int = 500) -> None:
        """Resolve rows claimed longer than STUCK_AFTER ago (uses the partial index outreach_msg_claimed_idx)."""
        now = now or timezone.now()
        stuck = list(
            Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=now - STUCK_AFTER)
            .select_related("borrower", "step", "opportunity")
            .order_by("claimed_at")[:limit]
        )
        for message in stuck:
            token = message.claim_token
            if message.handed_at is None:  # the worker stopped before handing it to any provider
                self._requeue(message, token, now=now)
            elif message.channel == Channel.SMS:
                self._reconcile_sms(message, token, now=now)
            else:
                self._reconcile_email(message, token)

    def _reconcile_sms(self, message: Message, token: str, *, now: dt.datetime) -> None:
        try:
            found = self.sms.find_sent(
                to=message.to_address or message.borrower.mobile_phone,
                body=message.body,
                since=message.claimed_at or now,
                idempotency_key=idempotency_key(message),
            )
        except SmsError as exc:
            logger.warning("Could not reconcile message %s yet: %s", message.pk, exc)
            return
        if found is None:
            self._requeue(message, token, now=now)
            return
        with transaction.atomic():
            if not self._claimed(message, token).update(
                status=Message.Status.SENT,
                provider_message_id=found.sid[:100],
                sent_at=message.claimed_at or now,
                error_code="",
                error_message="",
                hold_reason="",
                updated_at=now,
            ):
                return
            message.status, message.provider_message_id = Message.Status.SENT, found.sid
            sent_at = message.claimed_at or now
            self._after_sent(message, now=sent_at, data={"provider_message_id": found.sid, "reconciled": True})
            if message.opportunity_id is not None:
                Opportunity.objects.filter(pk=message.opportunity_id).update(last_contacted_at=sent_at)
                opportunities_mark_contacted(opportunity_ids={message.opportunity_id}, at=sent_at)
        self.stats.reconciled_sent += 1

    def _requeue(self, message: Message, token: str, *, now: dt.datetime) -> None:
        if self._claimed(message, token).update(
            status=Message.Status.SCHEDULED,
            due_at=now,
            claim_token="",
            claimed_at=None,
            handed_at=None,
            hold_reason="Re-queued: a worker stopped before sending it and no provider has it.",
            updated_at=now,
        ):
            self.stats.requeued += 1

    def _reconcile_email(self, message: Message, token: str) -> None:
        self._fail(
            message,
            token,
            code=UNCONFIRMED,
            text=(
                "A worker stopped while sending this email and the email provider cannot be asked whether it went "
                "out. Check the provider's activity log; re-queue it from admin if it was not sent."
            ),
        )
