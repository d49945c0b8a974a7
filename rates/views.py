from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.views import profile_required
from rates import services
from rates.forms import RateSheetConfirmForm, RateSheetUploadForm
from rates.importers import RateFileError, read_text


@profile_required
@require_http_methods(["GET", "POST"])
def rate_sheet_upload(request: HttpRequest) -> HttpResponse:
    """Managers upload the desk's daily rate sheet: preview first (every row's problem), then import."""
    profile = request.profile
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
                return redirect("pipeline:rates")
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
