from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from loans.filters import LoanFilterSet
from loans.models import Loan
from loans.selectors import portfolio as selectors
from loans.tables import LoanTable
from loans.tenancy import get_visible_or_404, profile_for
from refiapp.tables import SafeExportMixin


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if profile_for(request.user) is None:
        return render(request, "no_profile.html", status=403)
    return redirect("loans:board")


class HtmxTableMixin:
    """Return just the table for htmx requests (sorting, paging and filtering without a full reload)."""

    partial_template_name = "tables/partial.html"

    def get_template_names(self) -> list[str]:
        if getattr(self.request, "htmx", False) and not self.request.htmx.boosted:  # type: ignore[attr-defined]
            return [self.partial_template_name]
        return super().get_template_names()  # type: ignore[misc]


class LoanListView(LoginRequiredMixin, HtmxTableMixin, SafeExportMixin, SingleTableMixin, FilterView):
    table_class = LoanTable
    filterset_class = LoanFilterSet
    template_name = "loans/loan_list.html"
    export_formats = ("csv", "xlsx")
    export_name = "portfolio"

    def get_queryset(self) -> QuerySet[Loan]:
        return selectors.loan_list(user=self.request.user)


class LoanDetailView(LoginRequiredMixin, DetailView):
    template_name = "loans/loan_detail.html"
    context_object_name = "loan"

    def get_object(self, queryset: Any = None) -> Loan:
        return get_visible_or_404(selectors.loan_list(user=self.request.user), self.request.user, pk=self.kwargs["pk"])
