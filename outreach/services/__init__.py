"""Writes of the outreach app (see each module)."""

from outreach.services.consent import borrower_mark_undeliverable, borrower_opt_in, borrower_opt_out
from outreach.services.dispatch import dispatch_due_messages, message_requeue, messages_claim
from outreach.services.engagement import engagement_record, message_record_event
from outreach.services.enrollments import (
    EnrollmentError,
    enrollment_create,
    enrollment_pause,
    enrollment_resume,
    enrollment_stop,
    enrollment_stop_for_opportunity,
    enrollments_create_for_new_opportunities,
)
from outreach.services.sequences import sequence_ensure_default, sequences_ensure_defaults
from outreach.services.webhooks import webhook_event_process, webhook_event_store, webhook_events_process_pending

__all__ = [
    "EnrollmentError",
    "borrower_mark_undeliverable",
    "borrower_opt_in",
    "borrower_opt_out",
    "dispatch_due_messages",
    "engagement_record",
    "enrollment_create",
    "enrollment_pause",
    "enrollment_resume",
    "enrollment_stop",
    "enrollment_stop_for_opportunity",
    "enrollments_create_for_new_opportunities",
    "message_record_event",
    "message_requeue",
    "messages_claim",
    "sequence_ensure_default",
    "sequences_ensure_defaults",
    "webhook_event_process",
    "webhook_event_store",
    "webhook_events_process_pending",
]
