from django.urls import path

from loans.views import board, imports, matching, opportunities, portfolio, refinance

app_name = "loans"

urlpatterns = [
    path("board/", board.BoardView.as_view(), name="board"),
    path("opportunities/<int:pk>/", opportunities.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/stage/", opportunities.opportunity_stage, name="opportunity_stage"),
    path("opportunities/<int:pk>/note/", opportunities.opportunity_note, name="opportunity_note"),
    path("opportunities/<int:pk>/archive/", opportunities.opportunity_archive, name="opportunity_archive"),
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
    path("match/run/", matching.run_match, name="run_match"),
]
