from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.models import LoanOfficer
from core.tenancy import profile_for
from reports import selectors
from reports.charts import report_charts
from reports.forms import ReportPeriodForm
from reports.periods import PRESETS
from reports.report_tables import report_tables


@login_required
@require_GET
def report(request: HttpRequest) -> HttpResponse:
    """The results page for the signed-in user's scope; ``?export=<table>`` returns that table as CSV."""
    profile = profile_for(request.user)
    if profile is None:
        return render(request, "no_profile.html", status=403)
    organization = profile.organization
    form = ReportPeriodForm(request.GET or None, timezone=organization.timezone, now=timezone.now())
    period = form.period()
    data = selectors.report_build(user=request.user, period=period)
    tables = report_tables(data)
    export = request.GET.get("export")
    if export:
        if export not in tables:
            raise Http404("No such report table.")
        response = HttpResponse(tables[export].to_csv(), content_type="text/csv; charset=utf-8")
        filename = f"{organization.slug}-{export}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    query = f"start={period.start:%Y-%m-%d}&end={period.end:%Y-%m-%d}"
    return render(
        request,
        "reports/report.html",
        {
            "form": form,
            "report": data,
            "tables": tables,
            "charts": report_charts(data, tables),
            "presets": PRESETS,
            "period_query": query,
            "scope": _scope_label(profile),
        },
    )


def _scope_label(profile: LoanOfficer) -> str:
    if profile.role == LoanOfficer.Role.ORG_ADMIN:
        return f"all of {profile.organization.name}"
    if profile.role == LoanOfficer.Role.BRANCH_MANAGER:
        return f"branch {profile.branch.name}"
    return "your own opportunities"
