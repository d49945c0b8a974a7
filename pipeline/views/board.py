"""The pipeline board: the loan officer's home page (FilterSet + Table + thin view, htmx partial, CSV/XLSX)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.views import FilterView
from django_tables2 import LazyPaginator, SingleTableMixin

from core.exports import TableExport
from core.models import LoanOfficer
from core.tables import SafeExportMixin
from core.views import HtmxTableMixin, ProfileRequiredMixin
from pipeline.filters import OpportunityBoardFilterSet
from pipeline.models import Opportunity
from pipeline.selectors import board as selectors
from pipeline.tables import OpportunityBoardTable
from pipeline.views.matching import match_status_context


class BoardView(ProfileRequiredMixin, HtmxTableMixin, SafeExportMixin, SingleTableMixin, FilterView):
    table_class = OpportunityBoardTable
    filterset_class = OpportunityBoardFilterSet
    template_name = "pipeline/board.html"
    partial_template_name = "pipeline/board_partial.html"
    # The table paginates (lazily: no COUNT(*) over the whole book); the ListView itself does not.
    table_pagination = {"paginator_class": LazyPaginator, "per_page": 25}
    export_formats = ("csv", "xlsx")
    export_class = TableExport

    def get_queryset(self) -> QuerySet[Opportunity]:
        return selectors.board_list(user=self.request.user)

    def get_export_filename(self, export_format: str) -> str:
        today = selectors.organization_today(self.profile.organization)
        return f"pipeline-{today:%Y-%m-%d}.{export_format}"

    def get_table_kwargs(self) -> dict[str, Any]:
        exclude: tuple[str, ...] = ()
        if self.profile.role == LoanOfficer.Role.LOAN_OFFICER:
            exclude = ("loan_officer", "branch")
        elif self.profile.role == LoanOfficer.Role.BRANCH_MANAGER:
            exclude = ("branch",)
        if not hasattr(self, "_freshness"):
            organization = self.profile.organization
            self._freshness = selectors.rate_freshness(
                organization=organization, as_of=selectors.organization_today(organization)
            )
        return {"exclude": exclude, "freshness": self._freshness}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.request.GET.get(self.export_trigger_param):
            return context  # the export only needs the table
        organization = self.profile.organization
        today = selectors.organization_today(organization)
        query = self.request.GET.copy()
        for param in ("page", self.export_trigger_param):
            query.pop(param, None)
        last_match = selectors.last_match_run(organization=organization)
        context.update(
            summary=selectors.board_summary(queryset=self.object_list),
            rates_status=selectors.rates_status(organization=organization, as_of=today),
            last_match=last_match,
            export_query=query.urlencode(),
            today=today,
            **match_status_context(run=last_match, can_run=self.profile.is_manager),
        )
        return context
