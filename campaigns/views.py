"""The managers' campaign pages: the list, a new campaign from the board's filters (count and preview), a draft's
page (edit, send) and a sent campaign's results. Loan officers get 403 on the list and the new page, 404 on a
campaign (they see none)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns import selectors, services
from campaigns.forms import CampaignForm
from campaigns.models import Campaign
from core.tenancy import get_visible_or_404
from core.views import profile_required
from outreach.rendering import TemplateError


def _manager_only(request: HttpRequest) -> None:
    if not request.profile.is_manager:  # type: ignore[attr-defined]
        raise PermissionDenied("Campaigns are for managers.")


def _campaign(request: HttpRequest, pk: int) -> Campaign:
    return get_visible_or_404(Campaign.objects.select_related("branch"), request.user, pk=pk)


def _preview_context(
    request: HttpRequest, *, filters: str, form: CampaignForm | None, subject: str, body: str, render: bool = True
) -> dict[str, Any]:
    """Count and preview for the page; filter and template problems become messages and form errors, never a
    server error. ``render`` False (the template has errors): the count only."""
    context: dict[str, Any] = {"filter_errors": None, "preview": None}
    try:
        context["preview"] = selectors.campaign_preview(
            user=request.user, filters=filters, subject_template=subject, body_template=body, render=render
        )
    except selectors.FiltersInvalid as exc:
        context["filter_errors"] = exc.errors
    except TemplateError as exc:
        if form is not None:
            form.add_error("body_template", f"Template error: {exc}")
        context.update(_preview_context(request, filters=filters, form=None, subject="", body="", render=False))
    return context


def _filters_context(request: HttpRequest, filters: str) -> dict[str, Any]:
    filterset = selectors.filterset_for(user=request.user, filters=filters)
    summary = selectors.filters_summary(filterset) if filterset.is_valid() else ""
    return {"filters": filters, "filters_summary": summary, "board_url": f"{reverse('pipeline:board')}?{filters}"}


@profile_required
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    _manager_only(request)
    campaigns = list(selectors.campaign_list(user=request.user)[:200])
    rows = [selectors.CampaignResult(campaign=c, stats=selectors.campaign_stats(c)) for c in campaigns]
    return render(request, "campaigns/list.html", {"rows": rows, "stat_labels": selectors.STAT_LABELS})


@profile_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    """GET ``/campaigns/new/?<board query string>``: the form with the default educational email, the count of
    consenting recipients and the first one's email. POST: ``preview`` re-renders, otherwise a draft is saved."""
    _manager_only(request)
    source = request.POST.get("filters", "") if request.method == "POST" else request.GET
    filters = selectors.clean_filters(source)
    form = CampaignForm(request.POST if request.method == "POST" else None)
    context = _filters_context(request, filters)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        subject, body = data["subject_template"], data["body_template"]
        context.update(_preview_context(request, filters=filters, form=form, subject=subject, body=body))
        if "preview" not in request.POST and not context["filter_errors"] and form.is_valid():
            campaign = services.campaign_create(
                user=request.user,
                name=data["name"],
                subject_template=subject,
                body_template=body,
                filters=filters,
                filters_summary=context["filters_summary"],
            )
            messages.success(request, "Draft saved. Check the count and the preview, then send.")
            return redirect(campaign)
    else:
        valid_form = request.method == "GET"
        subject = str(form["subject_template"].initial) if valid_form else ""
        body = str(form["body_template"].initial) if valid_form else ""
        context.update(
            _preview_context(request, filters=filters, form=form, subject=subject, body=body, render=valid_form)
        )
    context.update(form=form, action=reverse("campaigns:new"), title="New campaign")
    return render(request, "campaigns/form.html", context, status=200)


@profile_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    _manager_only(request)
    if campaign.status != Campaign.Status.DRAFT:
        messages.info(request, "This campaign has been sent; it can no longer be edited.")
        return redirect(campaign)
    form = CampaignForm(request.POST if request.method == "POST" else None, instance=campaign)
    context = _filters_context(request, campaign.filters)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        subject, body = data["subject_template"], data["body_template"]
        context.update(_preview_context(request, filters=campaign.filters, form=form, subject=subject, body=body))
        if "preview" not in request.POST and form.is_valid():
            try:
                services.campaign_update(
                    campaign=campaign, name=data["name"], subject_template=subject, body_template=body
                )
            except services.CampaignNotEditable as exc:
                messages.info(request, str(exc))
            return redirect(campaign)
    else:
        valid_form = request.method == "GET"
        context.update(
            _preview_context(
                request,
                filters=campaign.filters,
                form=form,
                subject=campaign.subject_template,
                body=campaign.body_template,
                render=valid_form,
            )
        )
    context.update(form=form, action=reverse("campaigns:edit", args=[campaign.pk]), title="Edit campaign")
    context["campaign"] = campaign
    return render(request, "campaigns/form.html", context)


@profile_required
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    _manager_only(request)
    context: dict[str, Any] = {
        "campaign": campaign,
        "board_url": f"{reverse('pipeline:board')}?{campaign.filters}",
        "stats": selectors.campaign_stats(campaign),
        "stat_labels": selectors.STAT_LABELS,
    }
    if campaign.status == Campaign.Status.DRAFT:
        context.update(
            _preview_context(
                request,
                filters=campaign.filters,
                form=None,
                subject=campaign.subject_template,
                body=campaign.body_template,
            )
        )
    return render(request, "campaigns/detail.html", context)


@profile_required
@require_POST
def campaign_send(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Send: approve and queue (twice, or from two tabs, queues each borrower once)."""
    campaign = _campaign(request, pk)
    _manager_only(request)
    if campaign.status == Campaign.Status.SENT:
        messages.info(request, "This campaign was already sent.")
        return redirect(campaign)
    try:
        queued = services.campaign_send(campaign=campaign, user=request.user)
    except selectors.FiltersInvalid:
        messages.error(request, "The campaign's board filters are no longer valid; nothing was sent.")
        return redirect(campaign)
    campaign.refresh_from_db()
    if campaign.status == Campaign.Status.SENT:
        messages.success(request, f"Sent: {queued} email{'s' if queued != 1 else ''} queued through the outbox.")
    return redirect(campaign)
