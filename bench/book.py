"""The queued loan book the dispatch benchmarks share (bench/dispatch.py, bench/dispatch_workers.py): one loan and
one qualifying opportunity per borrower, auto-enrolled in the organization's default sequence. Imports Django
lazily: each benchmark configures its own settings first."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any


def local_noon_zone() -> str:
    """A fixed-offset zone where it is about noon now, so quiet hours never hold the benchmark."""
    from django.utils import timezone

    offset = 12 - timezone.now().hour
    offset = (offset + 12) % 24 - 12
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def enrolled_book(
    *, org: Any, officer: Any, branch: Any, borrowers: list[Any], loan_prefix: str, now: dt.datetime
) -> int:
    """Bulk-create each borrower's loan and opportunity, then enroll them all; returns how many were enrolled."""
    from loans.models import Loan
    from outreach.services.enrollments import enrollments_create_for_new_opportunities
    from pipeline.models import Opportunity

    today = now.date()
    loans = Loan.objects.bulk_create(
        [
            Loan(
                organization=org, loan_number=f"{loan_prefix}{i:07d}", borrower=b, loan_officer=officer, branch=branch,
                product_type="conforming", original_amount=Decimal("400000.00"), note_rate=Decimal("7.250"),
                term_months=360, note_date=dt.date(2023, 10, 16), first_payment_date=dt.date(2023, 12, 1),
            )
            for i, b in enumerate(borrowers)
        ],
        batch_size=1000,
    )  # fmt: skip
    Opportunity.objects.bulk_create(
        [
            Opportunity(
                organization=org, loan=loan, borrower_id=loan.borrower_id, loan_officer=officer, branch=branch,
                product_type="conforming", first_matched_at=now, last_matched_at=now, market_series="OBMMIC30YF",
                market_rate=Decimal("6.125"), market_rate_date=today, note_rate=Decimal("7.250"),
                spread=Decimal("1.125"), threshold=Decimal("0.625"), remaining_months=324,
                current_balance=Decimal("387493.18"), current_payment=Decimal("2728.71"),
                new_payment=Decimal("2448.23"), monthly_savings=Decimal("280.48"),
                total_interest_savings=Decimal("90875.52"), closing_costs=Decimal("5374.93"), break_even_months=20,
                net_benefit=Decimal("85500.59"),
            )
            for loan in loans
        ],
        batch_size=1000,
    )  # fmt: skip
    return enrollments_create_for_new_opportunities(organization=org)
