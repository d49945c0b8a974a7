from django.urls import path

from loans.views import imports, portfolio

app_name = "loans"

urlpatterns = [
    path("loans/", portfolio.LoanListView.as_view(), name="loan_list"),
    path("loans/<int:pk>/", portfolio.LoanDetailView.as_view(), name="loan_detail"),
    path("imports/", imports.import_start, name="import_start"),
    path("imports/help/", imports.import_help, name="import_help"),
    path("imports/<int:pk>/", imports.import_preview, name="import_preview"),
    path("imports/<int:pk>/commit/", imports.import_commit, name="import_commit"),
    path("imports/<int:pk>/summary/", imports.import_summary, name="import_summary"),
    path("imports/<int:pk>/errors.csv", imports.import_errors_csv, name="import_errors_csv"),
]
