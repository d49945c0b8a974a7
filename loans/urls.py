from django.urls import path

from loans.views import board, opportunities, portfolio

app_name = "loans"

urlpatterns = [
    path("board/", board.BoardView.as_view(), name="board"),
    path("opportunities/<int:pk>/", opportunities.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/stage/", opportunities.opportunity_stage, name="opportunity_stage"),
    path("opportunities/<int:pk>/note/", opportunities.opportunity_note, name="opportunity_note"),
    path("opportunities/<int:pk>/archive/", opportunities.opportunity_archive, name="opportunity_archive"),
    path("loans/", portfolio.LoanListView.as_view(), name="loan_list"),
    path("loans/<int:pk>/", portfolio.LoanDetailView.as_view(), name="loan_detail"),
]
