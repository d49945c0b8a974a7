from django.urls import path

from loans.views import matching, portfolio

app_name = "loans"

urlpatterns = [
    path("loans/", portfolio.LoanListView.as_view(), name="loan_list"),
    path("loans/<int:pk>/", portfolio.LoanDetailView.as_view(), name="loan_detail"),
    path("match/run/", matching.run_match, name="run_match"),
]
