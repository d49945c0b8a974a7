from django.urls import path

from loans import views

app_name = "loans"

urlpatterns = [
    path("loans/", views.LoanListView.as_view(), name="loan_list"),
    path("loans/<int:pk>/", views.LoanDetailView.as_view(), name="loan_detail"),
]
