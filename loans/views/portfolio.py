from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from core.exports import TableExport
from core.tables import SafeExportMixin
from core.tenancy import get_visible_or_404
from core.views import HtmxTableMixin, ProfileRequiredMixin
from loans.filters import LoanFilterSet
from loans.models import Loan
from loans.selectors import portfolio as selectors
from loans.tables import LoanTable


class LoanListView(ProfileRequiredMixin, HtmxTableMixin, SafeExportMixin, SingleTableMixin, FilterView):
    table_class = LoanTable
    filterset_class = LoanFilterSet
    template_name = "loans/loan_list.html"
    export_formats = ("csv", "xlsx")
    export_class = TableExport
    export_name = "portfolio"

    def get_queryset(self) -> QuerySet[Loan]:
        return selectors.loan_list(user=self.request.user)


class LoanDetailView(ProfileRequiredMixin, DetailView):
    template_name = "loans/loan_detail.html"
    context_object_name = "loan"

    def get_object(self, queryset: Any = None) -> Loan:
        return get_visible_or_404(selectors.loan_list(user=self.request.user), self.request.user, pk=self.kwargs["pk"])
