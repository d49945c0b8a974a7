from django.urls import path

from loans.views import imports, portfolio, refinance

app_name = "loans"

urlpatterns = [
    path("loans/", portfolio.LoanListView.as_view(), name="loan_list"),
    path("loans/<int:pk>/", portfolio.LoanDetailView.as_view(), name="loan_detail"),
    path("opportunities/<int:pk>/refinance/", refinance.refinance_initiate_view, name="refinance_initiate"),
    path("opportunities/<int:pk>/refinance/preview/", refinance.refinance_preview, name="refinance_preview"),
    path("refinances/<int:pk>/", refinance.refinance_detail, name="refinance_detail"),
    path("imports/", imports.import_start, name="import_start"),
    path("imports/<int:pk>/", imports.import_preview, name="import_preview"),
    path("imports/<int:pk>/commit/", imports.import_commit, name="import_commit"),
    path("imports/<int:pk>/summary/", imports.import_summary, name="import_summary"),
    path("imports/<int:pk>/errors.csv", imports.import_errors_csv, name="import_errors_csv"),
]
