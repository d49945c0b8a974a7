"""'Run match now': a branch manager or org admin starts the match of their organization, and the board follows
the run (htmx polls its status and refreshes the table when it ends)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from core.tenancy import get_visible_or_404
from core.views import profile_required
from pipeline.models import MatchRun
from pipeline.services.matching import ACTIVE, match_start

STATUS_TEMPLATE = "pipeline/match_status.html"
POLL_SECONDS = 2


def match_status_context(*, run: MatchRun | None, can_run: bool, just_finished: bool = False) -> dict[str, Any]:
    return {
        "run": run,
        "running": run is not None and run.status in ACTIVE,
        "can_run": can_run,
        "just_finished": just_finished,
        "poll_seconds": POLL_SECONDS,
        "run_match_url": reverse("pipeline:run_match") if can_run else None,
    }


@profile_required
@require_POST
def run_match(request: HttpRequest) -> HttpResponse:
    profile = request.profile  # type: ignore[attr-defined]
    if not profile.is_manager:
        raise PermissionDenied("Only branch managers and organization admins can run the match.")
    run, started = match_start(organization=profile.organization, user=request.user)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, STATUS_TEMPLATE, match_status_context(run=run, can_run=True))
    if started:
        messages.success(request, f"The match for {profile.organization} has started; the board follows it.")
    else:
        messages.info(request, "A match is already running; the board follows it.")
    target = request.POST.get("next") or request.headers.get("referer") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return redirect(target)


@profile_required
@require_GET
def match_run_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's progress for the board's poll: while it runs, the same poll again; when it has ended, its
    outcome and an ``HX-Trigger: match-finished`` so the board reloads its table."""
    run = get_visible_or_404(MatchRun, request.user, pk=pk)
    finished = run.status not in ACTIVE
    context = match_status_context(run=run, can_run=request.profile.is_manager, just_finished=finished)  # type: ignore[attr-defined]
    response = render(request, STATUS_TEMPLATE, context)
    if finished:
        response["HX-Trigger"] = "match-finished"
    return response
