"""The 18-month check: each loan is checked once when its note date passes the organization's months, with the
match's own numbers; cleared → a flagged opportunity with a call task, otherwise the ledger keeps the spread."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from automations.models import LoanReview
from automations.services import reviews_run
from pipeline.models import Activity, Opportunity
from tests.conftest import client_for
from tests.factories import (
    LoanFactory,
    OpportunityFactory,
    RateObservationFactory,
    RateSeriesFactory,
    SeriesMappingFactory,
)

pytestmark = pytest.mark.django_db

NOTE_DATE = dt.date(2025, 5, 20)  # 18 months later: 2026-11-20


@pytest.fixture
def priced(officer):  # type: ignore[no-untyped-def]
    series = RateSeriesFactory(code="OBMMIC30YF", product_type="conforming", term_months=360)
    SeriesMappingFactory(organization=officer.organization, series=series)
    RateObservationFactory(series=series, date=dt.date(2026, 11, 19), rate=Decimal("6.125"))
    return series


def loan(officer, **values):  # type: ignore[no-untyped-def]
    defaults = {
        "note_date": NOTE_DATE,
        "first_payment_date": dt.date(2025, 7, 1),
        "maturity_date": dt.date(2055, 6, 1),
        "property_value_date": dt.date(2025, 5, 1),
    }
    return LoanFactory(loan_officer=officer, **{**defaults, **values})


def review(officer, day):  # type: ignore[no-untyped-def]
    return reviews_run(organization=officer.organization, today=day)


def test_checked_once_when_18_months_pass_and_cleared_becomes_a_flagged_opportunity(officer, priced, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 19, 13, 0, tzinfo=dt.UTC), tick=False)
    cleared = loan(officer)  # 7.25 % against 6.125 %: clears the 0.625 band
    result = review(officer, dt.date(2026, 11, 19))
    assert (result.checked, LoanReview.objects.count(), Opportunity.objects.count()) == (0, 0, 0)

    time_machine.move_to(dt.datetime(2026, 11, 20, 13, 0, tzinfo=dt.UTC), tick=False)
    result = review(officer, dt.date(2026, 11, 20))
    assert (result.checked, result.cleared, result.flagged, result.opportunities_created) == (1, 1, 1, 1)
    row = LoanReview.objects.get()
    assert (row.loan, row.checked_on, row.months, row.cleared) == (cleared, dt.date(2026, 11, 20), 18, True)
    assert (row.note_rate, row.market_rate, row.spread, row.market_series) == (
        Decimal("7.250"), Decimal("6.125"), Decimal("1.125"), "OBMMIC30YF",
    )  # fmt: skip
    opportunity = Opportunity.objects.get()
    assert row.opportunity == opportunity and opportunity.loan == cleared
    assert opportunity.review_flag and opportunity.reviewed_at is not None
    assert opportunity.attention_reason.startswith("18-month review")
    task = opportunity.activities.get(kind=Activity.Kind.CALL_TASK)
    assert "18-month review" in task.body and task.data["automation"] == "loan_review"
    assert opportunity.activities.filter(kind=Activity.Kind.MATCHED).count() == 1

    # Rerun the same day, and the next: checked once.
    for day in (dt.date(2026, 11, 20), dt.date(2026, 11, 21)):
        again = review(officer, day)
        assert (again.checked, again.flagged) == (0, 0)
    assert LoanReview.objects.count() == 1
    assert Activity.objects.filter(kind=Activity.Kind.CALL_TASK).count() == 1


def test_not_cleared_is_recorded_with_the_spread_it_saw(officer, priced, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 20, 13, 0, tzinfo=dt.UTC), tick=False)
    small = loan(officer, note_rate=Decimal("6.375"))  # 0.25 points: below the band
    result = review(officer, dt.date(2026, 11, 20))
    assert (result.checked, result.cleared, result.not_cleared) == (1, 0, 1)
    row = LoanReview.objects.get()
    assert (row.loan, row.cleared, row.spread, row.opportunity) == (small, False, Decimal("0.250"), None)
    assert not Opportunity.objects.exists()


def test_an_open_opportunity_of_the_loan_is_flagged_not_duplicated(officer, priced, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 20, 13, 0, tzinfo=dt.UTC), tick=False)
    existing = OpportunityFactory(loan=loan(officer), stage="contacted")
    result = review(officer, dt.date(2026, 11, 20))
    assert (result.checked, result.cleared, result.flagged, result.opportunities_created) == (1, 1, 1, 0)
    existing.refresh_from_db()
    assert existing.review_flag and Opportunity.objects.count() == 1
    assert LoanReview.objects.get().opportunity == existing


def test_months_setting_older_loans_and_loans_without_a_rate(officer, priced, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 20, 13, 0, tzinfo=dt.UTC), tick=False)
    organization = officer.organization
    organization.review_after_months = 24
    organization.save()
    loan(officer)  # 18 months: not yet under a 24-month setting
    old = loan(officer, note_date=dt.date(2023, 10, 16), first_payment_date=dt.date(2023, 12, 1))
    loan(officer, note_date=dt.date(2023, 10, 16), first_payment_date=dt.date(2023, 12, 1), product_type="fha")
    result = review(officer, dt.date(2026, 11, 20))
    assert result.checked == 1  # the FHA loan has no market rate: checked once a rate exists
    assert LoanReview.objects.get().loan == old


def test_board_filter_lists_the_flagged_opportunities(officer, priced, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 20, 13, 0, tzinfo=dt.UTC), tick=False)
    loan(officer)
    review(officer, dt.date(2026, 11, 20))
    OpportunityFactory(loan=LoanFactory(loan_officer=officer))  # an ordinary one, matched later
    response = client_for(officer).get("/board/", {"preset": "review"})
    assert response.status_code == 200
    rows = list(response.context["table"].page.object_list)
    assert [row.record.review_flag for row in rows] == [True]
    assert "18-month review" in response.content.decode()


def test_a_loan_with_a_review_is_unique(officer, priced):
    first = loan(officer)
    LoanReview.objects.create(
        organization=officer.organization, loan=first, checked_on=dt.date(2026, 11, 20), months=18,
        note_rate=Decimal("7.250"),
    )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        LoanReview.objects.create(
            organization=officer.organization, loan=first, checked_on=dt.date(2026, 11, 21), months=18,
            note_rate=Decimal("7.250"),
        )  # fmt: skip
