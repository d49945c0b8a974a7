"""Reads: typed, scoped querysets for the portfolio pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from loans.models import Loan


def loan_list(*, user: Any) -> QuerySet[Loan]:
    return Loan.objects.visible_to(user).select_related("borrower", "loan_officer", "branch")
