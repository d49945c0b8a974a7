from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from loans.views import portfolio as loan_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("loans.api.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("rates/", include("rates.urls")),
    path("", loan_views.home, name="home"),
    path("", include("loans.urls")),
]
