"""``{% score_panel opportunity %}``: the score, "why this score" and the home's equity on the opportunity page."""

from __future__ import annotations

from typing import Any

from django import template

from pipeline.models import Opportunity
from scoring.selectors import score_explanation

register = template.Library()


@register.inclusion_tag("scoring/panel.html")
def score_panel(opportunity: Opportunity) -> dict[str, Any]:
    explanation = score_explanation(opportunity=opportunity)
    return {
        "opportunity": opportunity,
        "explanation": explanation,
        "changed": (
            explanation is not None
            and opportunity.score is not None
            and abs(explanation.score - opportunity.score) >= 0.005
        ),
    }


@register.filter
def percent(value: float | None, places: int = 0) -> str:
    """0.3412 → "34 %" (a probability as a percent)."""
    if value is None:
        return "—"
    return f"{value * 100:.{places}f} %"


@register.filter
def quarter(value: Any) -> str:
    return f"{value.year} Q{(value.month - 1) // 3 + 1}" if value else ""
