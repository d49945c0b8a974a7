"""'Run match now': a branch manager or org admin queues the match of their organization."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.tenancy import profile_for
from pipeline.models import MatchRun
from pipeline.services.matching import match_enqueue


@login_required
@require_POST
def run_match(request: HttpRequest) -> HttpResponse:
    profile = profile_for(request.user)
    if profile is None or not profile.is_manager:
        raise PermissionDenied("Only branch managers and organization admins can run the match.")
    transaction.on_commit(
        lambda: match_enqueue(organization=profile.organization, trigger=MatchRun.Trigger.USER, user=request.user)
    )
    messages.success(request, f"The match for {profile.organization} is queued; the board refreshes when it finishes.")
    target = request.POST.get("next") or request.headers.get("referer") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return redirect(target)
