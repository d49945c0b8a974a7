from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from core.models import LoanOfficer
from pipeline.models import Opportunity
from tests.factories import BorrowerFactory, BranchFactory, LoanFactory, LoanOfficerFactory, OpportunityFactory
from tests.outreach.conftest import MONDAY_9AM_CHICAGO, fresh_rates

# The seed's quick win: loans closed in the last 36 months, spread of at least 0.75 points.
SEED_FILTERS = "note_within_months=36&min_spread=0.75"


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"


@pytest.fixture(autouse=True)
def frozen(time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(MONDAY_9AM_CHICAGO, tick=False)
    return time_machine


def opportunity_for(officer: LoanOfficer, *, borrower: Any = None, **fields: Any) -> Opportunity:
    # Closed in February 2024: inside the seed's 36 months on the frozen Monday (2026-11-23).
    loan_fields = {"note_date": dt.date(2024, 2, 15), "first_payment_date": dt.date(2024, 4, 1)}
    loan_fields.update({k.removeprefix("loan__"): v for k, v in fields.items() if k.startswith("loan__")})
    opp_fields = {k: v for k, v in fields.items() if not k.startswith("loan__")}
    if borrower is not None:
        loan_fields["borrower"] = borrower
    return OpportunityFactory(loan=LoanFactory(loan_officer=officer, **loan_fields), **opp_fields)


@pytest.fixture
def book(officer) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The officer's branch: who a seed campaign reaches and who it must not."""
    fresh_rates(officer.organization)
    twice = BorrowerFactory(organization=officer.organization, first_name="Twyla", last_name="Twice")
    book = {
        "ana": opportunity_for(officer, loan__borrower__first_name="Ana", loan__borrower__last_name="O'Neil"),
        "twice_a": opportunity_for(officer, borrower=twice),
        "twice_b": opportunity_for(officer, borrower=twice, total_interest_savings=Decimal("120000.00")),
        "no_consent": opportunity_for(officer, loan__borrower__email_consent=False),
        "opted_out": opportunity_for(officer, loan__borrower__email_opted_out_at=MONDAY_9AM_CHICAGO),
        "undeliverable": opportunity_for(officer, loan__borrower__email_undeliverable_reason="hard bounce"),
        "dnc": opportunity_for(officer, loan__borrower__do_not_contact=True),
        "old_loan": opportunity_for(
            officer, loan__note_date=dt.date(2021, 6, 1), loan__first_payment_date=dt.date(2021, 8, 1)
        ),
        "small_spread": opportunity_for(officer, spread=Decimal("0.500")),
        "applied": opportunity_for(officer, stage=Opportunity.Stage.APPLICATION),
    }
    other_branch_officer = LoanOfficerFactory(branch=BranchFactory(organization=officer.organization))
    book["other_branch"] = opportunity_for(other_branch_officer)
    return book
