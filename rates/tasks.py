"""django-q2 tasks of the rates app: they only call services."""

from __future__ import annotations

from rates import services


def fetch_rates() -> str:
    """The daily FRED fetch (refiapp.tasks.daily_refresh runs it before the match). Returns a summary for
    the task log; failures are recorded per series as RateFetch rows and never stop the other series."""
    fetches = services.fetch_all_rates()
    if not fetches and not services.fred_configured():
        return "FRED_API_KEY is not set: nothing fetched (running on the shipped FRED history)"
    return "; ".join(
        f"{f.series.code}: {f.created} new, {f.revised} revised"
        if f.status == f.Status.SUCCEEDED
        else f"{f.series.code}: FAILED {f.error}"
        for f in fetches
    )
