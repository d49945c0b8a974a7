"""The rates page (/rates/): the rates of every series the organization uses, with the pipeline's triggers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.money import percent
from core.views import profile_required
from loans.models import Loan
from pipeline.models import MatchRun
from pipeline.selectors import market
from pipeline.selectors.board import last_match_run
from pipeline.views.matching import match_status_context
from rates import selectors


@profile_required
def rates_overview(request: HttpRequest) -> HttpResponse:
    """Per series the organization uses: today's rate, its date, 1- and 4-week change, provenance, history
    chart, and how many of the user's active loans sit above today's rate + threshold per product."""
    profile = request.profile
    organization = profile.organization
    as_of = selectors.organization_today(organization)
    range_key = request.GET.get("range", "1y")
    if range_key not in selectors.RANGES:
        range_key = "1y"
    series = selectors.series_for_organization(organization=organization)
    summaries = selectors.series_summaries(organization=organization, series=series, as_of=as_of)
    rates = selectors.market_rates(organization=organization, as_of=as_of)
    overlays = market.loans_above_trigger(
        loans=Loan.objects.visible_to(request.user), organization=organization, rates=rates
    )
    dates = [s.date for s in summaries if s.date]
    chart_end = max(dates) if dates else as_of
    history = selectors.rate_history(series=series, end=chart_end, range_key=range_key)
    # After a rate-sheet upload (or a fetch) the opportunities still carry the last match's figures: offer the
    # match, and follow it, until a run has started after the newest rate.
    last_match = last_match_run(organization=organization)
    changed_at = selectors.rates_changed_at(series=series)
    reprice = bool(
        changed_at
        and (last_match is None or last_match.started_at < changed_at)
        or (last_match is not None and last_match.status in (MatchRun.Status.QUEUED, MatchRun.Status.RUNNING))
    )
    context: dict[str, Any] = {
        "reprice": reprice,
        "rates_changed_at": changed_at,
        "last_match": last_match,
        **match_status_context(run=last_match, can_run=profile.is_manager),
        "as_of": as_of,
        "summaries": summaries,
        "overlays": [
            {"overlay": o, "stale": selectors.is_stale(o.rate, organization=organization, as_of=as_of)}
            for o in overlays
        ],
        "range_key": range_key,
        "ranges": list(selectors.RANGES),
        "chart_end": chart_end,
        "data_note": selectors.shipped_history_note(),
        "can_upload": profile.is_manager,
        "chart_data": {
            "series": [
                {
                    "code": s.series.code,
                    "title": s.series.title,
                    "points": [[d.isoformat(), str(r)] for d, r in history.get(s.series.pk, [])],
                }
                for s in summaries
                if history.get(s.series.pk)
            ],
            "triggers": [
                {
                    "label": (
                        f"{o.label}: {o.loans_above} loans ≥ {percent(o.trigger)} "
                        f"({o.rate.series_code} {percent(o.rate.rate)} + threshold)"
                    ),
                    "value": str(o.trigger),
                    "loans": o.loans_above,
                }
                for o in overlays
                if o.active_loans  # a trigger line for a product without loans would only clutter the chart
            ],
        },
    }
    return render(request, "rates/rates.html", context)
