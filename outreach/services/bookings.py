"""Borrower actions on their personal page: a click on the tracked link and a "book a call" request."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from outreach.models import BookingRequest, Enrollment, Message
from outreach.sendwindow import zone_for
from outreach.services.engagement import engagement_record, message_record_event
from pipeline.models import Activity, Opportunity


@transaction.atomic
def tracked_link_click(*, opportunity: Opportunity, message: Message | None = None) -> bool:
    """The borrower followed the scheduling link: a stop condition (→ Engaged). Repeat clicks change nothing.

    An earlier ESP click event (on any link of the message) does not count as this stop condition: the sequence
    still stops on the first click of the scheduling link itself."""
    if message is not None:
        first_click = (
            message_record_event(message=message, kind=Activity.Kind.CLICKED, data={"source": "tracked link"})
            is not None
        )
        if not first_click and not _engagement_pending(opportunity):
            return False
        engagement_record(
            opportunity=opportunity,
            kind=Activity.Kind.CLICKED,
            channel=message.channel,
            message=message,
            record_activity=False,
        )
        return True
    if not _engagement_pending(opportunity):
        return False
    engagement_record(opportunity=opportunity, kind=Activity.Kind.CLICKED, data={"source": "borrower page"})
    return True


def _engagement_pending(opportunity: Opportunity) -> bool:
    """A click still changes something: a sequence is active (a paused one already waits for the loan officer) or
    the borrower has not engaged yet."""
    running = Enrollment.objects.filter(opportunity=opportunity, status=Enrollment.Status.ACTIVE).exists()
    return running or opportunity.stage in (Opportunity.Stage.NEW, Opportunity.Stage.CONTACTED)


@transaction.atomic
def booking_request_create(
    *,
    opportunity: Opportunity,
    phone: str,
    preferred_windows: list[str],
    preferred_date: dt.date | None = None,
    notes: str = "",
    message: Message | None = None,
) -> BookingRequest:
    """Store a call request from the borrower page: a stop condition (→ Appointment); the officer is emailed.

    One request per borrower per local day: a repeat (a double click, a reload that re-posts, a second post)
    returns the day's first request and records, stops and emails nothing more."""
    borrower = opportunity.borrower
    today = timezone.now().astimezone(zone_for(borrower=borrower, organization=opportunity.organization)).date()
    existing = BookingRequest.objects.filter(borrower=borrower, requested_on=today).first()
    if existing is not None:
        return existing
    windows = [w for w in BookingRequest.Window.values if w in preferred_windows]
    booking = BookingRequest(
        organization_id=opportunity.organization_id,
        opportunity=opportunity,
        borrower=borrower,
        requested_on=today,
        phone=phone,
        preferred_windows=windows,
        preferred_date=preferred_date,
        notes=notes,
    )
    booking.full_clean(exclude=["opportunity", "organization", "borrower"], validate_constraints=False)
    try:
        with transaction.atomic():
            booking.save()
    except IntegrityError:  # a concurrent post of the same borrower won: show its confirmation
        return BookingRequest.objects.get(borrower=borrower, requested_on=today)
    labels = ", ".join(str(BookingRequest.Window(w).label) for w in windows) or "any time"
    when = f" on {preferred_date:%A %B} {preferred_date.day}" if preferred_date else ""
    summary = f"Call me at {phone}{when}, {labels}." + (f" Note: {notes}" if notes else "")
    engagement_record(
        opportunity=opportunity,
        kind=Activity.Kind.BOOKED,
        channel=message.channel if message else "",
        message=message,
        body=summary,
        data={"booking": booking.pk, "windows": windows, "date": preferred_date.isoformat() if preferred_date else ""},
    )
    return booking
