from django.urls import path

from pipeline.views import board, market, matching, opportunities

app_name = "pipeline"

urlpatterns = [
    path("board/", board.BoardView.as_view(), name="board"),
    path("opportunities/<int:pk>/", opportunities.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/stage/", opportunities.opportunity_stage, name="opportunity_stage"),
    path("opportunities/<int:pk>/note/", opportunities.opportunity_note, name="opportunity_note"),
    path("opportunities/<int:pk>/archive/", opportunities.opportunity_archive, name="opportunity_archive"),
    path("match/run/", matching.run_match, name="run_match"),
    path("match/runs/<int:pk>/", matching.match_run_status, name="match_run_status"),
    path("rates/", market.rates_overview, name="rates"),
]
