from django.urls import path

from refinance import views

app_name = "refinance"

urlpatterns = [
    path("opportunities/<int:pk>/refinance/", views.refinance_initiate_view, name="initiate"),
    path("opportunities/<int:pk>/refinance/preview/", views.refinance_preview, name="preview"),
    path("refinances/<int:pk>/", views.refinance_detail, name="detail"),
]
