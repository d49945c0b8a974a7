"""One clock: every signed-in staff request runs in its organization's time zone.

Pages, htmx partials, exports and admin then show times in the lender's local time without each view
remembering to (``{{ value|date }}``, ``timezone.localtime`` and django-tables2 columns all follow the
active zone). Users without a workspace (the operator) see UTC, and the layout says which zone it is.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from core.tenancy import profile_for


class OrganizationTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        profile = profile_for(getattr(request, "user", None))
        if profile is not None:
            timezone.activate(profile.organization.zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
