from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core import admin_base
from refiapp import views
from refiapp.health import healthz

urlpatterns = [
    # Before admin.site.urls: the same path as admin's "view on site", scoped to the manager's rows.
    path(
        "admin/r/<path:content_type_id>/<path:object_id>/",
        admin.site.admin_view(admin_base.view_on_site),
        name="admin_view_on_site",
    ),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/", include("refinance.api.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("favicon.ico", views.favicon),
    path("rates/", include("rates.urls")),
    path("", views.home, name="home"),
    path("", include("loans.urls")),
    path("", include("pipeline.urls")),
    path("", include("refinance.urls")),
    path("", include("outreach.urls")),
    path("anymail/", include("anymail.urls")),
    path("reports/", include("reports.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("scoring/", include("scoring.urls")),
]
if settings.DEMO_CRM_RECEIVER:  # make demo's stand-in CRM; absent otherwise (check --deploy warns outside DEBUG)
    from refiapp.demo_crm import demo_crm_hooks

    urlpatterns.insert(0, path("demo-crm/hooks/", demo_crm_hooks, name="demo_crm_hooks"))

# JSON under /api/, Django's pages elsewhere (refinance/api/errors.py).
handler400 = "refinance.api.errors.bad_request"
handler403 = "refinance.api.errors.permission_denied"
handler404 = "refinance.api.errors.page_not_found"
handler500 = "refinance.api.errors.server_error"
