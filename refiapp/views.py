from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.tenancy import profile_for
from core.views import no_profile


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The board for staff; the admin site for an operator (a staff user with no lender workspace)."""
    if profile_for(request.user) is None:
        if request.user.is_staff:
            return redirect("admin:index")
        return no_profile(request)
    return redirect("pipeline:board")


class LogoutView(auth_views.LogoutView):
    """Logging out is a POST (CSRF-safe); a GET, e.g. a typed or bookmarked /accounts/logout/, gets a page with
    the button instead of a blank 405."""

    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("login")
        return render(request, "registration/logout_confirm.html")


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico for pages that do not link one (admin): the same icon as the app's pages."""
    return redirect(staticfiles_storage.url("favicon.svg"), permanent=True)
