"""The JSON body of each event (docs/webhooks.md shows one of each): ``{"type", "timestamp", "data"}``.

Built from the source row at the first attempt and kept on the delivery. Ids, the loan number, the borrower's
name, stages, channels, the refinance reference; amounts and rates as strings (exact decimals). No contact
details, no message bodies, no secrets.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from outreach.models import BookingRequest, Message
from pipeline.models import Activity, Opportunity
from refinance.models import RefinanceEvent
from webhooks.events import BOOKING_REQUESTED, OPPORTUNITY_CREATED, OPPORTUNITY_STAGE_CHANGED
from webhooks.models import WebhookDelivery


class SourceGone(Exception):
    """The event's row no longer exists (its opportunity or loan was deleted)."""


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _opportunity(opportunity: Opportunity) -> dict[str, Any]:
    officer = opportunity.loan_officer
    return {
        "id": opportunity.pk,
        "stage": opportunity.stage,
        "loan_number": opportunity.loan.loan_number,
        "product_type": opportunity.product_type,
        "borrower": {"id": opportunity.borrower_id, "name": opportunity.borrower.full_name},
        "loan_officer": {"id": officer.pk, "name": officer.display_name, "email": officer.email} if officer else None,
        "note_rate": _amount(opportunity.note_rate),
        "market_rate": _amount(opportunity.market_rate),
        "spread": _amount(opportunity.spread),
        "current_balance": _amount(opportunity.current_balance),
        "monthly_savings": _amount(opportunity.monthly_savings),
        "closing_costs": _amount(opportunity.closing_costs),
        "break_even_months": opportunity.break_even_months,
    }


def _message(message: Message | None, activity: Activity) -> dict[str, Any]:
    if message is None:
        return {"id": activity.message_id, "channel": activity.channel or None}
    return {
        "id": message.pk,
        "kind": message.kind,
        "channel": message.channel,
        "subject": message.subject or None,
        "sequence_step": message.step.position if message.step_id else None,
        "sent_at": _iso(message.sent_at),
    }


def _activity_data(delivery: WebhookDelivery) -> dict[str, Any]:
    activity = (
        Activity.objects.select_related(
            "opportunity__loan", "opportunity__borrower", "opportunity__loan_officer", "actor"
        )
        .filter(pk=delivery.activity_id)
        .first()
    )
    if activity is None or activity.opportunity is None:
        raise SourceGone(f"Timeline entry {delivery.activity_id} no longer exists.")
    data: dict[str, Any] = {"opportunity": _opportunity(activity.opportunity)}
    if delivery.event_type == OPPORTUNITY_CREATED:
        data["matched_spread"] = _amount(activity.opportunity.matched_spread)
        data["matched_threshold"] = _amount(activity.opportunity.matched_threshold)
    elif delivery.event_type == OPPORTUNITY_STAGE_CHANGED:
        data["from_stage"], data["to_stage"] = activity.from_stage, activity.to_stage
        data["changed_by"] = activity.actor.get_username() if activity.actor else None
    elif delivery.event_type == BOOKING_REQUESTED:
        booking = BookingRequest.objects.filter(pk=(activity.data or {}).get("booking")).first()
        data["booking"] = {
            "id": booking.pk if booking else None,
            "requested_on": _iso(booking.requested_on) if booking else None,
            "preferred_date": _iso(booking.preferred_date) if booking else None,
            "preferred_windows": list(booking.preferred_windows) if booking else [],
            "channel": activity.channel or None,
        }
    else:  # message.* and lock_alert.sent
        message = Message.objects.select_related("step").filter(pk=activity.message_id).first()
        data["message"] = _message(message, activity)
    return data


def _refinance_data(delivery: WebhookDelivery) -> dict[str, Any]:
    event = (
        RefinanceEvent.objects.select_related(
            "transaction__existing_loan__borrower", "transaction__new_loan", "transaction__product"
        )
        .filter(pk=delivery.refinance_event_id)
        .first()
    )
    if event is None:
        raise SourceGone(f"Refinance event {delivery.refinance_event_id} no longer exists.")
    refinance = event.transaction
    borrower = refinance.existing_loan.borrower
    return {
        "refinance": {
            "reference": refinance.reference,
            "status": event.to_status,
            "from_status": event.from_status or None,
            "existing_loan_number": refinance.existing_loan.loan_number,
            "new_loan_number": refinance.new_loan.loan_number if refinance.new_loan else None,
            "product": refinance.product.name,
            "existing_balance": _amount(refinance.existing_balance),
            "new_amount": _amount(refinance.new_amount),
            "new_rate": _amount(refinance.new_rate),
            "new_term_months": refinance.new_term_months,
            "cash_out_amount": _amount(refinance.cash_out_amount),
            "closing_costs": _amount(refinance.closing_costs),
            "effective_date": _iso(refinance.effective_date),
            "note": event.note or None,
        },
        "borrower": {"id": borrower.pk, "name": borrower.full_name},
        "opportunity_id": refinance.opportunity_id,
    }


def payload_build(delivery: WebhookDelivery) -> dict[str, Any]:
    """The body of ``delivery``'s event; raises SourceGone when its row was deleted."""
    data = _activity_data(delivery) if delivery.activity_id else _refinance_data(delivery)
    return {"type": delivery.event_type, "timestamp": _iso(delivery.occurred_at), "data": data}
