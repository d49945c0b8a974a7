"""The opportunity page and its actions: change stage, add a note, archive.

Every view fetches the opportunity through ``opportunity_for_user`` (another officer's or organization's
opportunity is a 404) and writes only through ``loans.services.opportunities``. The actions answer an htmx
request with the refreshed workspace (stage, actions, notes, timeline) and a plain POST with a redirect.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from pipeline.forms import NoteForm, StageChangeForm
from pipeline.models import Activity, Opportunity
from pipeline.selectors import board as selectors
from pipeline.services.opportunities import StageChangeError, opportunity_add_note, opportunity_change_stage

WORKSPACE_TEMPLATE = "pipeline/opportunity_workspace.html"


def _context(
    request: HttpRequest,
    opportunity: Opportunity,
    *,
    stage_form: Form | None = None,
    note_form: Form | None = None,
    status_message: str = "",
) -> dict[str, Any]:
    organization = opportunity.organization
    today = selectors.organization_today(organization)
    timeline = selectors.opportunity_timeline(opportunity=opportunity)
    freshness = selectors.rate_freshness(organization=organization, as_of=today)
    stale_reason = freshness.reason_for(opportunity)
    return {
        "opportunity": opportunity,
        "loan": opportunity.loan,
        "borrower": opportunity.borrower,
        "today": today,
        "freshness": freshness,
        "rate_is_stale": bool(stale_reason),
        "stale_reason": stale_reason,
        "timeline": timeline,
        "notes": [entry for entry in timeline if entry.kind == Activity.Kind.NOTE],
        "stage_form": stage_form or StageChangeForm(initial={"stage": opportunity.stage}),
        "note_form": note_form or NoteForm(),
        "refinance_url": reverse("refinance:initiate", args=[opportunity.pk]),
        "status_message": status_message,
    }


def _render(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """Render with the organization's timezone, so every time on the page is the lender's local time."""
    with timezone.override(selectors.organization_timezone(context["opportunity"].organization)):
        return render(request, template, context, status=status)


def _page(request: HttpRequest, opportunity: Opportunity, *, status: int = 200, **forms: Form) -> HttpResponse:
    context = _context(request, opportunity, **forms)
    options = selectors.opportunity_savings_options(opportunity=opportunity, rates=context["freshness"].rates)
    context.update(
        options=options,
        chart=selectors.opportunity_chart(opportunity=opportunity, options=options),
        consent_events=selectors.borrower_consent_events(opportunity=opportunity),
        spread_over_threshold=opportunity.spread - opportunity.threshold,
        spread_over_optimal=(
            opportunity.spread - opportunity.optimal_threshold if opportunity.optimal_threshold is not None else None
        ),
    )
    return _render(request, "pipeline/opportunity_detail.html", context, status=status)


@login_required
@require_GET
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, selectors.opportunity_for_user(user=request.user, pk=pk))


def _respond(request: HttpRequest, opportunity: Opportunity, *, ok: bool, message: str, **forms: Form) -> HttpResponse:
    """htmx: the refreshed workspace (with the form errors, if any, so htmx swaps it in).
    Plain POST: a redirect to the page, or the page again with the form errors (400)."""
    if request.htmx:  # type: ignore[attr-defined]
        context = _context(request, opportunity, status_message=message if ok else "", **({} if ok else forms))
        # The outreach panel follows at once (a closing stage or Archive stops the sequence): swapped out of band.
        context["refresh_outreach_panel"] = ok
        return _render(request, WORKSPACE_TEMPLATE, context)
    if ok:
        messages.success(request, message)
        return redirect("pipeline:opportunity_detail", pk=opportunity.pk)
    return _page(request, opportunity, status=400, **forms)


@login_required
@require_POST
def opportunity_stage(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_for_user(user=request.user, pk=pk)
    form = StageChangeForm(request.POST)
    if form.is_valid():
        try:
            opportunity_change_stage(
                opportunity=opportunity,
                stage=form.cleaned_data["stage"],
                actor=request.user,
                note=form.cleaned_data["note"],
            )
        except StageChangeError as exc:
            form.add_error("stage", str(exc))
    ok = form.is_valid()
    return _respond(
        request, opportunity, ok=ok, message=f"Stage set to {opportunity.get_stage_display()}.", stage_form=form
    )


@login_required
@require_POST
def opportunity_archive(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_for_user(user=request.user, pk=pk)
    opportunity_change_stage(opportunity=opportunity, stage=Opportunity.Stage.ARCHIVED, actor=request.user)
    return _respond(request, opportunity, ok=True, message="Opportunity archived.")


@login_required
@require_POST
def opportunity_note(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_for_user(user=request.user, pk=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        opportunity_add_note(opportunity=opportunity, body=form.cleaned_data["body"], actor=request.user)
    return _respond(request, opportunity, ok=form.is_valid(), message="Note added.", note_form=form)
