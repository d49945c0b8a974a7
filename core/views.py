"""The one way a staff page requires a workspace, and the shared htmx table behaviour.

Every staff view is wrapped by ``profile_required`` (functions) or ``ProfileRequiredMixin`` (classes): signed-out
users go to the login page, a signed-in user without an active LoanOfficer profile gets the "no workspace" page
(403), and the view finds the profile on ``request.profile``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.tenancy import profile_for


def no_profile(request: HttpRequest) -> HttpResponse:
    return render(request, "no_profile.html", status=403)


def profile_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        profile = profile_for(request.user)
        if profile is None:
            return no_profile(request)
        request.profile = profile  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapped


class ProfileRequiredMixin(LoginRequiredMixin):
    """Signed-in staff only; a user without an active profile gets the "no workspace" page."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            self.profile = profile_for(request.user)
            if self.profile is None:
                return no_profile(request)
            request.profile = self.profile  # type: ignore[attr-defined]
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class HtmxTableMixin:
    """Return just the table for htmx requests (sorting, paging and filtering without a full reload)."""

    partial_template_name = "tables/partial.html"

    def get_template_names(self) -> list[str]:
        if getattr(self.request, "htmx", False) and not self.request.htmx.boosted:  # type: ignore[attr-defined]
            return [self.partial_template_name]
        return super().get_template_names()  # type: ignore[misc]
