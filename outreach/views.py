"""Public borrower pages (signed tokens, no login) and the loan officer's outreach actions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.choices import Channel
from core.tenancy import get_visible_or_404
from loans.models import Borrower
from outreach.disclosures import disclosures_for
from outreach.forms import BookingForm
from outreach.models import Enrollment, Message
from outreach.rendering import format_money, format_phone, format_rate, read_page_token, read_unsubscribe_token
from outreach.selectors import message_for_token, opportunity_for_borrower_page, sequences_for_user
from outreach.services.bookings import booking_request_create, tracked_link_click
from outreach.services.consent import borrower_opt_out
from outreach.services.enrollments import (
    EnrollmentError,
    enrollment_create,
    enrollment_pause,
    enrollment_resume,
    enrollment_stop,
)
from outreach.templatetags.outreach import panel_context
from pipeline.models import Opportunity

# ----- borrower pages ----------------------------------------------------------------------------------------


def _from_token(token: str) -> tuple[Opportunity, Message | None]:
    try:
        opportunity_id, message_id = read_page_token(token)
    except (signing.BadSignature, ValueError) as exc:
        raise Http404("This link is not valid or has expired.") from exc
    opportunity = opportunity_for_borrower_page(opportunity_id=opportunity_id)
    if opportunity is None:
        raise Http404("This link is not valid or has expired.")
    return opportunity, message_for_token(message_id=message_id, opportunity=opportunity)


def _page_context(opportunity: Opportunity) -> dict[str, Any]:
    officer = opportunity.loan_officer
    return {
        "opportunity": opportunity,
        "borrower_first_name": opportunity.borrower.first_name,
        "organization": opportunity.organization,
        "officer": officer,
        "officer_phone": format_phone(officer.phone) if officer else "",
        "figures": [
            ("Your current rate", format_rate(opportunity.note_rate)),
            ("Today's rate", format_rate(opportunity.market_rate)),
            ("Your payment now", format_money(opportunity.current_payment)),
            ("Estimated new payment", format_money(opportunity.new_payment)),
            ("Estimated monthly savings", format_money(opportunity.monthly_savings)),
        ],
        "rate_date": opportunity.market_rate_date,
        "disclosures": disclosures_for(opportunity=opportunity, organization=opportunity.organization),
        "can_book": opportunity.is_open,
    }


@require_http_methods(["GET", "POST"])
def borrower_page(request: HttpRequest, token: str) -> HttpResponse:
    opportunity, message = _from_token(token)
    context = _page_context(opportunity)
    booked = False
    if request.method == "POST" and opportunity.is_open:
        form = BookingForm(request.POST)
        if form.is_valid():
            booking_request_create(
                opportunity=opportunity,
                phone=form.cleaned_data["phone"],
                preferred_windows=form.cleaned_data["preferred_windows"],
                preferred_date=form.cleaned_data["preferred_date"],
                notes=form.cleaned_data["notes"],
                message=message,
            )
            booked = True
            form = BookingForm()
    else:
        form = BookingForm(initial={"phone": format_phone(opportunity.borrower.mobile_phone)})
    response = render(
        request, "outreach/borrower_page.html", {**context, "form": form, "booked": booked, "token": token}
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    # same-origin, not no-referrer: with no-referrer browsers post the booking form with "Origin: null" and the
    # CSRF check refuses it. Links leaving the page (the officer's calendar) still carry no Referer (the token).
    response["Referrer-Policy"] = "same-origin"
    return response


@require_http_methods(["GET"])
def tracked_link(request: HttpRequest, token: str) -> HttpResponse:
    """The scheduling link in messages: record the click (a stop condition), then go to the booking page."""
    opportunity, message = _from_token(token)
    if opportunity.is_open:
        tracked_link_click(opportunity=opportunity, message=message)
    officer = opportunity.loan_officer
    if officer is not None and officer.scheduling_url:
        return HttpResponseRedirect(officer.scheduling_url)
    return redirect("outreach:borrower_page", token=token)


@csrf_exempt  # RFC 8058 one-click POSTs come from mail clients without a CSRF token; the signed token authorises
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        borrower_id, message_id = read_unsubscribe_token(token)
    except (signing.BadSignature, ValueError) as exc:
        raise Http404("This link is not valid or has expired.") from exc
    borrower = Borrower.objects.select_related("organization").filter(pk=borrower_id).first()
    if borrower is None:
        raise Http404("This link is not valid or has expired.")
    if request.method == "POST":
        message = Message.objects.filter(pk=message_id, borrower=borrower).first() if message_id else None
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        borrower_opt_out(
            borrower=borrower,
            channel=Channel.EMAIL,
            source="one-click unsubscribe (RFC 8058)" if one_click else "unsubscribe link",
            detail={"message": message_id or None},
            message=message,
        )
        return render(request, "outreach/unsubscribe.html", {"borrower": borrower, "done": True})
    return render(
        request,
        "outreach/unsubscribe.html",
        {"borrower": borrower, "done": False, "already": bool(borrower.email_opted_out_at), "token": token},
    )


# ----- loan officer actions ----------------------------------------------------------------------------------


def _back(request: HttpRequest, opportunity: Opportunity) -> HttpResponse:
    if getattr(request, "htmx", False):
        html = render_to_string("outreach/panel.html", panel_context(request, opportunity), request=request)
        return HttpResponse(html)
    target = request.POST.get("next") or request.headers.get("referer") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("loans:loan_detail", args=[opportunity.loan_id])
    return HttpResponseRedirect(target)


@login_required
@require_POST
def enroll(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = get_visible_or_404(Opportunity, request.user, pk=pk)
    sequence = None
    if request.POST.get("sequence"):
        sequence = get_visible_or_404(sequences_for_user(user=request.user), request.user, pk=request.POST["sequence"])
    try:
        enrollment_create(opportunity=opportunity, sequence=sequence, actor=request.user)
        messages.success(request, "Outreach started.")
    except EnrollmentError as exc:
        messages.error(request, str(exc))
    return _back(request, opportunity)


ACTIONS = {"pause": enrollment_pause, "resume": enrollment_resume}


@login_required
@require_POST
def enrollment_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    enrollment = get_visible_or_404(Enrollment.objects.select_related("opportunity"), request.user, pk=pk)
    try:
        if action == "stop":
            if not enrollment_stop(enrollment=enrollment, actor=request.user, note=request.POST.get("note", "")):
                raise EnrollmentError("This sequence is not running.")
        elif action in ACTIONS:
            ACTIONS[action](enrollment=enrollment, actor=request.user)
        else:
            raise Http404("Unknown action.")
        messages.success(request, f"Outreach {'stopped' if action == 'stop' else action + 'd'}.")
    except EnrollmentError as exc:
        messages.error(request, str(exc))
    return _back(request, enrollment.opportunity)
