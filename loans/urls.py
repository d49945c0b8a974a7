from django.urls import path

from loans.views import portfolio, refinance

app_name = "loans"

urlpatterns = [
    path("loans/", portfolio.LoanListView.as_view(), name="loan_list"),
    path("loans/<int:pk>/", portfolio.LoanDetailView.as_view(), name="loan_detail"),
    path("opportunities/<int:pk>/refinance/", refinance.refinance_initiate_view, name="refinance_initiate"),
    path("opportunities/<int:pk>/refinance/preview/", refinance.refinance_preview, name="refinance_preview"),
    path("refinances/<int:pk>/", refinance.refinance_detail, name="refinance_detail"),
]
