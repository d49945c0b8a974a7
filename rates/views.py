from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from loans.models import Loan, LoanOfficer
from loans.tenancy import profile_for
from rates import selectors, services
from rates.forms import RateSheetConfirmForm, RateSheetUploadForm
from rates.importers import RateFileError, read_text


def _profile_or_403(request: HttpRequest) -> LoanOfficer:
    profile = profile_for(request.user)
    if profile is None:
        raise PermissionDenied("No active staff profile.")
    return profile


@login_required
def rates_overview(request: HttpRequest) -> HttpResponse:
    """Per series the organization uses: today's rate, its date, 1- and 4-week change, provenance, history
    chart, and how many of the user's active loans sit above today's rate + threshold per product."""
    profile = _profile_or_403(request)
    organization = profile.organization
    as_of = selectors.organization_today(organization)
    range_key = request.GET.get("range", "1y")
    if range_key not in selectors.RANGES:
        range_key = "1y"
    series = selectors.series_for_organization(organization=organization)
    summaries = selectors.series_summaries(organization=organization, series=series, as_of=as_of)
    rates = selectors.market_rates(organization=organization, as_of=as_of)
    overlays = selectors.loans_above_trigger(
        loans=Loan.objects.visible_to(request.user), organization=organization, rates=rates
    )
    dates = [s.date for s in summaries if s.date]
    chart_end = max(dates) if dates else as_of
    history = selectors.rate_history(series=series, end=chart_end, range_key=range_key)
    context: dict[str, Any] = {
        "as_of": as_of,
        "summaries": summaries,
        "overlays": [
            {"overlay": o, "stale": selectors.is_stale(o.rate, organization=organization, as_of=as_of)}
            for o in overlays
        ],
        "range_key": range_key,
        "ranges": list(selectors.RANGES),
        "chart_end": chart_end,
        "data_note": selectors.shipped_history_note(),
        "can_upload": profile.is_manager,
        "chart_data": {
            "series": [
                {
                    "code": s.series.code,
                    "title": s.series.title,
                    "points": [[d.isoformat(), str(r)] for d, r in history.get(s.series.pk, [])],
                }
                for s in summaries
                if history.get(s.series.pk)
            ],
            "triggers": [
                {
                    "label": (
                        f"{o.label}: {o.loans_above} loans ≥ {o.trigger}% "
                        f"({o.rate.series_code} {o.rate.rate}% + threshold)"
                    ),
                    "value": str(o.trigger),
                    "loans": o.loans_above,
                }
                for o in overlays
                if o.active_loans  # a trigger line for a product without loans would only clutter the chart
            ],
        },
    }
    return render(request, "rates/rates.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rate_sheet_upload(request: HttpRequest) -> HttpResponse:
    """Managers upload the desk's daily rate sheet: preview first (every row's problem), then import."""
    profile = _profile_or_403(request)
    if not profile.is_manager:
        raise PermissionDenied("Only branch managers and org admins upload rate sheets.")
    organization = profile.organization
    form = RateSheetUploadForm()
    context: dict[str, Any] = {"form": form}
    if request.method == "POST" and "content" in request.POST:
        confirm = RateSheetConfirmForm(request.POST)
        if confirm.is_valid():
            try:
                result = services.rate_sheet_import(
                    organization=organization,
                    file=confirm.cleaned_data["content"],
                    user=request.user,
                    use_for_pricing=confirm.cleaned_data["use_for_pricing"],
                )
            except services.RateSheetInvalid as exc:
                context["errors"] = exc.errors
            else:
                messages.success(request, f"Rate sheet imported: {result}.")
                return redirect("rates:overview")
        else:
            context["errors"] = ["The previewed sheet was not sent back; upload it again."]
    elif request.method == "POST":
        form = RateSheetUploadForm(request.POST, request.FILES)
        context["form"] = form
        if form.is_valid():
            try:
                content = read_text(form.cleaned_data["file"])
            except RateFileError as exc:
                form.add_error("file", str(exc))
            else:
                preview = services.rate_sheet_preview(organization=organization, file=content)
                context["preview"] = preview
                if preview.ok:
                    context["confirm"] = RateSheetConfirmForm(
                        initial={"content": content, "use_for_pricing": form.cleaned_data["use_for_pricing"]}
                    )
    return render(request, "rates/rate_sheet.html", context)
