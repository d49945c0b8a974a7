from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext

import pytest
import time_machine

from core.formatting import date_text
from core.money import money
from loans.models import Loan
from pipeline.models import Activity, Opportunity
from refinance.models import RefinanceEvent, RefinanceTransaction
from refinance.rules import loan_payoff, minimum_amount, product_closing_costs
from refinance.services import (
    RefinanceRulesFailed,
    RefinanceStatusError,
    refinance_approve,
    refinance_calculate,
    refinance_cancel,
    refinance_defaults,
    refinance_fund,
    refinance_initiate,
)
from tests.factories import (
    LoanFactory,
    LoanProductFactory,
    OpportunityFactory,
    RateObservationFactory,
    SeriesMappingFactory,
)

pytestmark = pytest.mark.django_db

EFFECTIVE = dt.date(2026, 12, 22)
PAYOFF = Decimal("388720.29")  # 387,105.58 principal after 37 payments + 1,614.71 interest for Dec 1-22


@pytest.fixture(autouse=True)
def frozen_time():
    # 2026-11-22 09:00 in Chicago (the factory organization's timezone).
    with time_machine.travel(dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def loan(officer):
    return LoanFactory(loan_officer=officer, loan_number="LN-12345")


@pytest.fixture
def product(loan):
    return LoanProductFactory(organization=loan.organization)


@pytest.fixture
def opportunity(loan):
    return OpportunityFactory(loan=loan, stage=Opportunity.Stage.ENGAGED)


def initiate(loan, **overrides):
    values = {
        "loan": loan,
        "product_code": "CONF30",
        "new_amount": Decimal("395000.00"),
        "new_rate": Decimal("6.125"),
        "new_term_months": 360,
        "reason": "Lower interest rate",
        "effective_date": EFFECTIVE,
        "actor": loan.loan_officer.user,
    }
    values.update(overrides)
    return refinance_initiate(**values)


def failures_of(loan, **overrides) -> list[str]:
    with pytest.raises(RefinanceRulesFailed) as caught:
        initiate(loan, **overrides)
    return caught.value.messages


def amortise(balance: Decimal, rate: Decimal, payment: Decimal, months: int) -> Decimal:
    """Month by month, independently of loans.finance's closed form."""
    with localcontext() as ctx:
        ctx.prec = 40
        r = rate / 1200
        for _ in range(months):
            balance = balance * (1 + r) - payment
    return money(balance)


# --- Numbers -------------------------------------------------------------------------------------------------


def test_payoff_is_scheduled_principal_plus_interest_accrued_since_the_last_due_date(loan):
    payoff = loan_payoff(loan=loan, payoff_date=EFFECTIVE)
    # 37 payments (Dec 2023 .. Dec 2026) of $2,728.71 on $400,000 at 7.25 %.
    assert payoff.principal == amortise(Decimal("400000"), Decimal("7.25"), Decimal("2728.71"), 37)
    assert payoff.principal == Decimal("387105.58")
    assert (payoff.interest_from, payoff.interest_days) == (dt.date(2026, 12, 1), 21)
    assert payoff.accrued_interest == money(Decimal("387105.58") * Decimal("0.0725") * 21 / 365)
    assert payoff.accrued_interest == Decimal("1614.71")
    assert payoff.fees == Decimal("0.00")
    assert payoff.total == PAYOFF


def test_payoff_carries_a_known_upb_forward_to_the_effective_date(officer):
    loan = LoanFactory(loan_officer=officer, current_upb=Decimal("380000.00"), upb_as_of=dt.date(2026, 10, 31))
    payoff = loan_payoff(loan=loan, payoff_date=EFFECTIVE)
    # The Nov 1 and Dec 1 payments fall between the UPB date and the effective date.
    assert payoff.principal == amortise(Decimal("380000.00"), Decimal("7.25"), Decimal("2728.71"), 2)
    assert payoff.principal == Decimal("379131.63")
    assert payoff.accrued_interest == Decimal("1581.45")
    assert payoff.total == Decimal("380713.08")


def test_payoff_before_the_first_payment_accrues_from_the_note_date(officer):
    loan = LoanFactory(loan_officer=officer, note_date=dt.date(2026, 10, 15), first_payment_date=dt.date(2026, 12, 1))
    payoff = loan_payoff(loan=loan, payoff_date=dt.date(2026, 11, 30))
    assert payoff.principal == Decimal("400000.00")
    assert (payoff.interest_from, payoff.interest_days) == (dt.date(2026, 10, 15), 46)
    assert payoff.accrued_interest == Decimal("3654.79")


def test_payoff_fees_come_from_settings(loan, settings):
    settings.REFINANCE_PAYOFF_FEE = Decimal("125.00")
    payoff = loan_payoff(loan=loan, payoff_date=EFFECTIVE)
    assert (payoff.fees, payoff.total) == (Decimal("125.00"), PAYOFF + Decimal("125.00"))


def test_calculate_minimum_maximum_and_cash_out(loan, product):
    quote = refinance_calculate(loan=loan, product=product, effective_date=EFFECTIVE)
    assert quote.payoff.total == PAYOFF
    # (payoff + $1,500) / (1 - 1 %), rounded up to the cent; closing costs are financed.
    assert quote.minimum_amount == Decimal("394161.91")
    assert quote.closing_costs == Decimal("5441.62")
    assert quote.minimum_amount == PAYOFF + quote.closing_costs
    assert quote.maximum_amount == Decimal("504400.00")  # 97 % of $520,000
    # 80 % of $520,000 = $416,000 − payoff − closing costs on $416,000 ($5,660).
    assert quote.maximum_cash_out == Decimal("21619.71")
    assert quote.max_ltv == Decimal("97.00")

    cash_out = refinance_calculate(
        loan=loan, product=product, effective_date=EFFECTIVE, cash_out_amount=Decimal("20000")
    )
    assert cash_out.minimum_amount == Decimal("414363.93")
    assert cash_out.maximum_amount == Decimal("416000.00")
    assert cash_out.max_ltv == Decimal("80.00")


def test_calculate_payments_savings_and_ltv(loan, product):
    quote = refinance_calculate(
        loan=loan,
        product=product,
        effective_date=EFFECTIVE,
        new_amount=Decimal("395000.00"),
        new_rate=Decimal("6.125"),
        new_term_months=360,
    )
    assert quote.closing_costs == Decimal("5450.00")
    assert quote.ltv == Decimal("75.962")
    assert (quote.current_payment, quote.new_payment, quote.monthly_savings) == (
        Decimal("2728.71"),
        Decimal("2400.06"),
        Decimal("328.65"),
    )
    assert quote.break_even_months == 17


def test_maximum_amount_is_capped_by_the_product(loan):
    product = LoanProductFactory(organization=loan.organization, max_loan_amount=Decimal("450000.00"))
    quote = refinance_calculate(loan=loan, product=product, effective_date=EFFECTIVE)
    assert quote.maximum_amount == Decimal("450000.00")


def test_without_property_value_maxima_are_unknown(officer, product):
    loan = LoanFactory(loan_officer=officer, organization=product.organization, property_value=None)
    quote = refinance_calculate(loan=loan, product=product, effective_date=EFFECTIVE)
    assert (quote.maximum_amount, quote.maximum_cash_out, quote.ltv) == (None, None, None)


@pytest.mark.parametrize("payoff", ["100000.00", "388720.29", "250000.01", "999999.99", "123456.78"])
@pytest.mark.parametrize("percent", ["0.000", "1.000", "1.375", "2.500"])
def test_minimum_amount_is_the_smallest_that_covers_everything(loan, payoff, percent):
    product = LoanProductFactory(organization=loan.organization, closing_cost_percent=Decimal(percent))
    payoff, cash_out = Decimal(payoff), Decimal("1234.56")
    smallest = minimum_amount(product=product, payoff=payoff, cash_out=cash_out)

    def covers(amount: Decimal) -> bool:
        return amount >= payoff + cash_out + product_closing_costs(product=product, amount=amount)

    assert covers(smallest)
    assert not covers(smallest - Decimal("0.01"))


# --- Initiate ------------------------------------------------------------------------------------------------


def test_initiate_creates_pending_new_loan_transaction_and_audit(loan, product, opportunity, officer):
    refinance = initiate(loan, notes="Rate reduction, no cash out")

    assert refinance.status == "initiated"
    assert refinance.reference.startswith("RT-")
    assert (refinance.existing_balance, refinance.new_amount, refinance.closing_costs, refinance.cash_out_amount) == (
        PAYOFF,
        Decimal("395000.00"),
        Decimal("5450.00"),
        Decimal("0.00"),
    )
    assert (refinance.product, refinance.opportunity, refinance.initiated_by) == (product, opportunity, officer.user)
    new = refinance.new_loan
    assert new.loan_number == "LN-12345-R1"
    assert (new.status, new.source, new.refinanced_from) == ("pending", "refinance", loan)
    assert (new.borrower_id, new.loan_officer_id, new.branch_id) == (loan.borrower_id, officer.pk, loan.branch_id)
    assert (new.original_amount, new.note_rate, new.term_months, new.purpose) == (
        Decimal("395000.00"),
        Decimal("6.125"),
        360,
        "rate_term_refi",
    )
    assert (new.note_date, new.first_payment_date, new.maturity_date) == (
        EFFECTIVE,
        dt.date(2027, 2, 1),
        dt.date(2057, 1, 1),
    )
    loan.refresh_from_db()
    assert loan.status == "active"  # the old loan stays active until the new one funds

    event = RefinanceEvent.objects.get(transaction=refinance)
    assert (event.from_status, event.to_status, event.actor) == ("", "initiated", officer.user)
    opportunity.refresh_from_db()
    assert opportunity.stage == "application"
    kinds = list(Activity.objects.filter(opportunity=opportunity).order_by("pk").values_list("kind", "actor"))
    assert kinds == [("refinance_initiated", officer.user.pk), ("stage_change", officer.user.pk)]
    initiated = Activity.objects.get(opportunity=opportunity, kind="refinance_initiated")
    # The one rate format and the one date format (core.money.percent, core.formatting.date_text).
    assert f"at 6.125\xa0% for 360 months, effective {date_text(EFFECTIVE)}." in initiated.body
    stage = Activity.objects.get(opportunity=opportunity, kind="stage_change")
    assert (stage.from_stage, stage.to_stage) == ("engaged", "application")


def test_amount_exactly_the_minimum_passes_one_cent_less_fails(loan, product):
    messages = failures_of(loan, new_amount=Decimal("394161.90"))
    assert messages == [
        "The new loan amount of $394,161.90 does not pay off the existing loan in full: it must be at least "
        "$394,161.91 (payoff $388,720.29 + closing costs $5,441.62 + cash-out $0.00)."
    ]
    assert initiate(loan, new_amount=Decimal("394161.91")).new_amount == Decimal("394161.91")


def test_ltv_exactly_the_maximum_passes(loan, product):
    Loan.objects.filter(pk=loan.pk).update(property_value=Decimal("407216.50"))  # 97 % of it: 395,000.005
    loan.refresh_from_db()
    assert initiate(loan, new_amount=Decimal("395000.00")).status == "initiated"


def test_cash_out_refinance_uses_the_cash_out_ltv(loan, product):
    messages = failures_of(loan, new_amount=Decimal("420000.00"), cash_out_amount=Decimal("25000.00"))
    assert messages == [
        "Insufficient collateral: the new amount is 80.769% of the property value ($520,000.00); loan product "
        "CONF30 allows at most 80.00% for a cash-out refinance (at most $416,000.00)."
    ]
    refinance = initiate(loan, new_amount=Decimal("416000.00"), cash_out_amount=Decimal("21619.71"))
    assert (refinance.cash_out_amount, refinance.new_loan.purpose) == (Decimal("21619.71"), "cash_out_refi")


RULES = [
    (
        "not active",
        {"status": Loan.Status.PAID_OFF},
        {},
        "Loan LN-12345 is paid off, not active: only active loans can be refinanced.",
    ),
    (
        "past due",
        {"days_past_due": 30},
        {},
        "Loan LN-12345 is 30 days past due: it must be current (0 days past due) to be refinanced.",
    ),
    (
        "credit score low",
        {"credit_score": 600},
        {},
        "The borrower's credit score of 600 is below loan product CONF30's minimum of 620.",
    ),
    (
        "credit score missing",
        {"credit_score": None},
        {},
        "The borrower's credit score is missing: loan product CONF30 needs a score of at least 620.",
    ),
    (
        "dti high",
        {"dti": Decimal("52.50")},
        {},
        "The borrower's debt-to-income ratio (DTI) of 52.50% is above loan product CONF30's maximum of 50.00%.",
    ),
    (
        "dti missing",
        {"dti": None},
        {},
        "The borrower's debt-to-income ratio (DTI) is missing: loan product CONF30 allows at most 50.00%.",
    ),
    (
        "property value missing",
        {"property_value": None},
        {},
        "The property value is missing, so the collateral cannot be checked.",
    ),
    (
        "ltv",
        {"property_value": Decimal("400000.00")},
        {},
        "Insufficient collateral: the new amount is 98.750% of the property value ($400,000.00); loan product "
        "CONF30 allows at most 97.00% for a rate-term refinance (at most $388,000.00).",
    ),
    (
        "effective date in the past",
        {},
        {"effective_date": dt.date(2026, 11, 21)},
        "The effective date 2026-11-21 is in the past (today is 2026-11-22 in America/Chicago).",
    ),
    (
        "term",
        {},
        {"new_term_months": 180},
        "Loan product CONF30 has a 360-month term; the new term is 180 months.",
    ),
    ("unknown product", {}, {"product_code": "NOPE"}, "Loan product 'NOPE' does not exist."),
]


@pytest.mark.parametrize(("loan_changes", "overrides", "message"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_fails_alone_with_its_own_message(loan, product, opportunity, loan_changes, overrides, message):
    Loan.objects.filter(pk=loan.pk).update(**loan_changes)
    loan.refresh_from_db()
    assert failures_of(loan, **overrides) == [message]
    assert not RefinanceTransaction.objects.exists()
    assert not Loan.objects.filter(source="refinance").exists()
    opportunity.refresh_from_db()
    assert opportunity.stage == "engaged"
    assert not Activity.objects.exists()


def test_product_rules(loan):
    LoanProductFactory(
        organization=loan.organization, code="SMALL", max_loan_amount=Decimal("390000.00"), is_active=False
    )
    assert failures_of(loan, product_code="SMALL") == [
        "Loan product SMALL is no longer offered.",
        "The new amount of $395,000.00 is above loan product SMALL's maximum loan amount of $390,000.00.",
    ]


def test_another_tenants_product_does_not_exist(loan):
    LoanProductFactory(code="OTHER")  # another organization
    assert failures_of(loan, product_code="OTHER") == ["Loan product 'OTHER' does not exist."]


def test_every_failure_is_reported_at_once(loan, product):
    Loan.objects.filter(pk=loan.pk).update(days_past_due=60, credit_score=580, dti=Decimal("55.00"))
    loan.refresh_from_db()
    messages = failures_of(
        loan,
        new_amount=Decimal("900000.00"),
        new_term_months=240,
        effective_date=dt.date(2026, 11, 1),
    )
    assert messages == [
        "Loan LN-12345 is 60 days past due: it must be current (0 days past due) to be refinanced.",
        "The effective date 2026-11-01 is in the past (today is 2026-11-22 in America/Chicago).",
        "Loan product CONF30 has a 360-month term; the new term is 240 months.",
        "The new amount of $900,000.00 is above today's conforming limit of $832,750.00 for the national baseline "
        "(county unknown): loan product CONF30 is conforming; use a jumbo product.",
        "The borrower's credit score of 580 is below loan product CONF30's minimum of 620.",
        "The borrower's debt-to-income ratio (DTI) of 55.00% is above loan product CONF30's maximum of 50.00%.",
        "The new amount is $502,006.82 above the payoff, closing costs and declared cash-out: that is undeclared "
        "cash-out (a rate-term refinance may return at most $2,000.00). Declare it as cash-out, checked against the "
        "cash-out LTV, or lower the amount.",
        "Insufficient collateral: the new amount is 173.077% of the property value ($520,000.00); loan product "
        "CONF30 allows at most 97.00% for a rate-term refinance (at most $504,400.00).",
        "The new amount of $900,000.00 is above loan product CONF30's maximum loan amount of $832,750.00.",
    ]


def test_failures_name_the_form_fields_they_concern(loan, product):
    with pytest.raises(RefinanceRulesFailed) as caught:
        initiate(loan, new_amount=Decimal("1000.00"), new_term_months=240, effective_date=dt.date(2026, 1, 1))
    assert [f.field for f in caught.value.failures] == ["effective_date", "new_term_months", "new_amount"]


def test_effective_date_is_judged_in_the_organizations_timezone(loan, product):
    # 03:00 UTC on Nov 23 is still Nov 22 in Chicago: Nov 22 is today, not the past.
    with time_machine.travel(dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC), tick=False):
        refinance = initiate(loan, effective_date=dt.date(2026, 11, 22), new_amount=Decimal("395000.00"))
    assert refinance.effective_date == dt.date(2026, 11, 22)


def test_a_loan_is_refinanced_once_at_a_time(loan, product):
    first = initiate(loan)
    assert failures_of(loan) == [f"Loan LN-12345 is already being refinanced (refinance {first.reference})."]
    assert RefinanceTransaction.objects.count() == 1


def test_after_a_cancel_the_next_new_loan_number_is_free(loan, product, manager):
    first = initiate(loan)
    refinance_cancel(refinance=first, actor=manager.user)
    second = initiate(loan)
    assert (first.new_loan.loan_number, second.new_loan.loan_number) == ("LN-12345-R1", "LN-12345-R2")


def test_without_an_open_opportunity_nothing_goes_on_a_timeline(loan, product):
    OpportunityFactory(loan=loan, stage=Opportunity.Stage.LOST)
    refinance = initiate(loan)
    assert refinance.opportunity is None
    assert not Activity.objects.exists()


# --- Status changes ------------------------------------------------------------------------------------------


def test_approve_then_fund_activates_the_new_loan_and_retires_the_old(loan, product, opportunity, manager):
    refinance = initiate(loan)
    refinance_approve(refinance=refinance, actor=manager.user, note="Underwriting clear")
    refinance_fund(refinance=refinance, actor=manager.user)

    refinance.refresh_from_db()
    loan.refresh_from_db()
    new = refinance.new_loan
    new.refresh_from_db()
    assert refinance.status == "funded"
    assert (new.status, new.current_upb, new.upb_as_of, new.refinanced_from) == (
        "active",
        Decimal("395000.00"),
        EFFECTIVE,
        loan,
    )
    assert loan.status == "refinanced"
    events = list(refinance.events.values_list("from_status", "to_status", "actor", "note"))
    assert events == [
        ("", "initiated", loan.loan_officer.user_id, "Initiated from the opportunity page."),
        ("initiated", "approved", manager.user_id, "Underwriting clear"),
        ("approved", "funded", manager.user_id, ""),
    ]
    opportunity.refresh_from_db()
    assert opportunity.stage == "won"
    statuses = list(
        Activity.objects.filter(kind="refinance_status").order_by("pk").values_list("data__from", "data__to")
    )
    assert statuses == [("initiated", "approved"), ("approved", "funded")]


def test_cancel_closes_the_pending_new_loan_and_deletes_nothing(loan, product, opportunity, manager):
    refinance = initiate(loan)
    refinance_cancel(refinance=refinance, actor=manager.user, note="Borrower withdrew")
    refinance.refresh_from_db()
    refinance.new_loan.refresh_from_db()
    assert (refinance.status, refinance.new_loan.status) == ("cancelled", "closed")
    assert Loan.objects.get(pk=loan.pk).status == "active"
    assert refinance.events.count() == 2


@pytest.mark.parametrize(
    ("steps", "service", "message"),
    [
        ([], refinance_fund, "is initiated; it cannot be funded."),
        ([refinance_approve], refinance_approve, "is approved; it cannot be approved."),
        ([refinance_cancel], refinance_approve, "is cancelled; it cannot be approved."),
        ([refinance_approve, refinance_fund], refinance_cancel, "is funded; it cannot be cancelled."),
    ],
)
def test_invalid_status_changes_are_refused(loan, product, manager, steps, service, message):
    refinance = initiate(loan)
    for step in steps:
        step(refinance=refinance, actor=manager.user)
    with pytest.raises(RefinanceStatusError, match=message):
        service(refinance=refinance, actor=manager.user)


# --- Form prefill --------------------------------------------------------------------------------------------


def test_defaults_prefill_product_todays_rate_term_amount_and_date(loan, product, opportunity):
    LoanProductFactory(organization=loan.organization, code="CONF15", term_months=180)
    mapping = SeriesMappingFactory(organization=loan.organization)
    RateObservationFactory(series=mapping.series, date=dt.date(2026, 11, 20), rate=Decimal("5.990"))
    initial = refinance_defaults(loan=loan, opportunity=opportunity)
    assert initial["product"] == product
    assert initial["new_term_months"] == 360
    assert initial["new_rate"] == Decimal("5.990")
    assert initial["effective_date"] == EFFECTIVE
    assert initial["new_amount"] == Decimal("394161.91")  # payoff + financed closing costs


def test_defaults_fall_back_to_the_opportunitys_market_rate(loan, product, opportunity):
    assert refinance_defaults(loan=loan, opportunity=opportunity)["new_rate"] == Decimal("6.125")


def test_initiate_stops_the_running_outreach_sequence(loan, product, opportunity, officer):
    from outreach.models import Enrollment, Message
    from outreach.services import enrollment_create, sequence_ensure_default

    sequence_ensure_default(organization=loan.organization)
    enrollment = enrollment_create(opportunity=opportunity, actor=officer.user)
    assert Message.objects.filter(enrollment=enrollment, status="scheduled").count() == 3

    initiate(loan)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "application")
    assert not Message.objects.filter(enrollment=enrollment, status="scheduled").exists()
    assert Activity.objects.filter(opportunity=opportunity, kind="stopped").count() == 1
    assert Enrollment.objects.filter(opportunity=opportunity, status__in=["active", "paused"]).count() == 0
