from django.urls import path

from rates import views

app_name = "rates"

urlpatterns = [
    path("rate-sheet/", views.rate_sheet_upload, name="rate_sheet"),
]
