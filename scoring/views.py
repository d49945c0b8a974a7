"""The Model page: how the organization's score was built and how well it ranks (managers only)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.tenancy import profile_for
from scoring.selectors import model_page


@login_required
@require_GET
def model_detail(request: HttpRequest) -> HttpResponse:
    profile = profile_for(request.user)
    if profile is None:
        return render(request, "no_profile.html", status=403)
    if not profile.is_manager:
        raise PermissionDenied("The Model page is for branch managers and org admins.")
    return render(request, "scoring/model.html", {"page": model_page(organization=profile.organization)})
