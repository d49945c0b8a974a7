"""Refinances (DESIGN §7): the one service behind the opportunity form, the command API and the admin.

* ``refinance_calculate`` — payoff, closing costs, minimum / maximum new amount, maximum cash-out, LTV, payments.
* ``refinance_rule_failures`` — every business rule that fails, each with its own plain-words message.
* ``refinance_initiate`` — checks the rules and, only if all pass, creates the pending new loan, the
  RefinanceTransaction, its audit event and the timeline entries, and moves the opportunity to Application.
* ``refinance_approve`` / ``refinance_fund`` / ``refinance_cancel`` — the audited status changes.

Decisions:
* Closing costs are always financed: they are part of the new loan, so the new amount must be at least
  payoff + closing costs (computed by the product's rule on the new amount) + cash-out.
* The payoff at the effective date = the principal then (the current UPB carried forward by the payments
  scheduled until then, or the scheduled balance when no UPB is known) + interest accrued since the last
  due date (per diem, actual/365) + ``settings.REFINANCE_PAYOFF_FEE``.
* The new product's term is the new loan's term: a 30-year product cannot carry a 20-year loan.
* A double submit cannot create two transactions: the existing loan's row is locked while the rules are
  checked, and the database allows one in-progress transaction per loan (the loser gets a rule failure).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from loans import finance
from loans.models import (
    Activity,
    Loan,
    LoanProduct,
    Opportunity,
    Organization,
    RefinanceEvent,
    RefinanceTransaction,
)
from loans.services.opportunities import activity_record, opportunity_change_stage
from outreach.models import Enrollment
from outreach.services import enrollment_stop_for_opportunity
from rates.defaults import term_bucket
from rates.selectors import market_rates
from refiapp.money import CENT, ZERO, money, money_down, money_up, rate

DEFAULT_EFFECTIVE_DAYS = 30
Status = RefinanceTransaction.Status


@dataclass(frozen=True)
class RuleFailure:
    """One failed business rule. ``field`` names the form field it concerns (None: the loan as a whole)."""

    message: str
    field: str | None = None


class RefinanceRulesFailed(Exception):
    """The refinance was refused; ``failures`` lists every rule that failed."""

    def __init__(self, failures: list[RuleFailure]) -> None:
        self.failures = list(failures)
        super().__init__("; ".join(self.messages))

    @property
    def messages(self) -> list[str]:
        return [failure.message for failure in self.failures]


class RefinanceStatusError(ValueError):
    """A status change that the transaction's current status does not allow."""


def _usd(value: Decimal) -> str:
    return f"${value:,.2f}"


def organization_today(organization: Organization) -> dt.date:
    """Today's date where the lender is (a date "in the past" is judged in the organization's timezone)."""
    return timezone.localdate(timezone=ZoneInfo(organization.timezone))


def product_by_code(*, organization: Organization | int, code: str) -> LoanProduct | None:
    """The organization's product with this code; another tenant's product is simply not found."""
    return LoanProduct.objects.for_organization(organization).filter(code=code).first()


def product_for_loan(*, loan: Loan) -> LoanProduct | None:
    """The active product that best matches a loan: same product type, same term, else a 30-year term."""
    candidates = LoanProduct.objects.for_organization(loan.organization_id)
    products = list(candidates.filter(is_active=True, product_type=loan.product_type))
    for wanted in (loan.term_months, 360):
        for product in products:
            if product.term_months == wanted:
                return product
    return products[0] if products else None


# --- Numbers -------------------------------------------------------------------------------------------------


def loan_payoff(*, loan: Loan, payoff_date: dt.date) -> finance.Payoff:
    """What it takes to pay ``loan`` off on ``payoff_date`` (see the module docstring)."""
    scheduled_payment = finance.payment(
        principal=loan.original_amount, annual_rate=loan.note_rate, months=loan.term_months
    )
    made = finance.payments_made(
        first_payment_date=loan.first_payment_date, as_of=payoff_date, term_months=loan.term_months
    )
    if loan.current_upb is not None:
        made_at_upb = (
            finance.payments_made(
                first_payment_date=loan.first_payment_date, as_of=loan.upb_as_of, term_months=loan.term_months
            )
            if loan.upb_as_of
            else made
        )
        principal = finance.balance_after(
            balance=loan.current_upb,
            annual_rate=loan.note_rate,
            monthly_payment=scheduled_payment,
            payments=made - made_at_upb,
        )
    else:
        principal = finance.scheduled_balance(
            principal=loan.original_amount, annual_rate=loan.note_rate, term_months=loan.term_months, payments=made
        )
    interest_from = (
        finance.last_due_date(
            first_payment_date=loan.first_payment_date, as_of=payoff_date, term_months=loan.term_months
        )
        or loan.note_date
    )
    return finance.payoff(
        principal=principal,
        annual_rate=loan.note_rate,
        interest_from=interest_from,
        payoff_date=payoff_date,
        fees=Decimal(settings.REFINANCE_PAYOFF_FEE),
    )


def product_closing_costs(*, product: LoanProduct, amount: Decimal) -> Decimal:
    return finance.closing_costs(amount=amount, fixed=product.closing_cost_fixed, percent=product.closing_cost_percent)


def minimum_amount(*, product: LoanProduct, payoff: Decimal, cash_out: Decimal) -> Decimal:
    """The smallest new amount that pays off ``payoff``, its own (financed) closing costs and the cash-out."""

    def covers(amount: Decimal) -> bool:
        return amount >= payoff + cash_out + product_closing_costs(product=product, amount=amount)

    # The exact solution of A = payoff + cash-out + fixed + A·percent, then a cent or two either way because
    # the cost rule rounds to cents (covering is monotone in A: costs grow by less than a cent per cent).
    amount = money_up((payoff + cash_out + product.closing_cost_fixed) / (1 - product.closing_cost_percent / 100))
    while not covers(amount):
        amount += CENT
    while covers(amount - CENT):
        amount -= CENT
    return amount


def _max_amount_for(*, product: LoanProduct, property_value: Decimal, ltv: Decimal) -> Decimal:
    amount = money_down(property_value * ltv / 100)
    if product.max_loan_amount is not None:
        amount = min(amount, product.max_loan_amount)
    return amount


@dataclass(frozen=True)
class RefinanceQuote:
    effective_date: dt.date
    payoff: finance.Payoff
    cash_out_amount: Decimal
    minimum_amount: Decimal
    maximum_amount: Decimal | None  # by the product's LTV (cash-out limit when cash-out > 0) and max amount
    maximum_cash_out: Decimal | None  # by the product's cash-out LTV and max amount
    property_value: Decimal | None
    max_ltv: Decimal  # the LTV limit that applies, percent
    new_amount: Decimal | None
    closing_costs: Decimal  # on the new amount, or on the minimum amount when none is given
    ltv: Decimal | None  # new amount / property value, percent
    current_payment: Decimal
    new_payment: Decimal | None
    monthly_savings: Decimal | None
    break_even_months: int | None


def refinance_calculate(
    *,
    loan: Loan,
    product: LoanProduct,
    effective_date: dt.date,
    cash_out_amount: Decimal = ZERO,
    new_amount: Decimal | None = None,
    new_rate: Decimal | None = None,
    new_term_months: int | None = None,
) -> RefinanceQuote:
    """The numbers of a refinance of ``loan`` into ``product`` on ``effective_date`` (reads only)."""
    cash_out = money(cash_out_amount)
    payoff = loan_payoff(loan=loan, payoff_date=effective_date)
    minimum = minimum_amount(product=product, payoff=payoff.total, cash_out=cash_out)
    max_ltv = product.max_ltv_cash_out if cash_out > 0 else product.max_ltv_rate_term
    value = loan.property_value
    maximum = maximum_cash_out = None
    if value:
        maximum = _max_amount_for(product=product, property_value=value, ltv=max_ltv)
        cash_out_cap = _max_amount_for(product=product, property_value=value, ltv=product.max_ltv_cash_out)
        maximum_cash_out = max(
            cash_out_cap - payoff.total - product_closing_costs(product=product, amount=cash_out_cap), ZERO
        )
    costs = product_closing_costs(product=product, amount=new_amount if new_amount is not None else minimum)
    current_payment = finance.payment(
        principal=loan.original_amount, annual_rate=loan.note_rate, months=loan.term_months
    )
    new_payment = savings = break_even = ltv = None
    if new_amount is not None and value:
        ltv = rate(new_amount * 100 / value)
    if new_amount is not None and new_rate is not None and new_term_months:
        new_payment = finance.payment(principal=new_amount, annual_rate=new_rate, months=new_term_months)
        savings = money(current_payment - new_payment)
        break_even = finance.break_even_months(costs=costs, monthly_savings=savings)
    return RefinanceQuote(
        effective_date=effective_date,
        payoff=payoff,
        cash_out_amount=cash_out,
        minimum_amount=minimum,
        maximum_amount=maximum,
        maximum_cash_out=maximum_cash_out,
        property_value=value,
        max_ltv=max_ltv,
        new_amount=new_amount,
        closing_costs=costs,
        ltv=ltv,
        current_payment=current_payment,
        new_payment=new_payment,
        monthly_savings=savings,
        break_even_months=break_even,
    )


# --- Rules ---------------------------------------------------------------------------------------------------


def _in_progress(loan: Loan) -> RefinanceTransaction | None:
    return RefinanceTransaction.objects.filter(existing_loan=loan, status__in=RefinanceTransaction.IN_PROGRESS).first()


def _already_refinancing(loan: Loan, existing: RefinanceTransaction) -> RuleFailure:
    return RuleFailure(f"Loan {loan.loan_number} is already being refinanced (refinance {existing.reference}).")


def refinance_rule_failures(
    *,
    loan: Loan,
    product_code: str,
    product: LoanProduct | None,
    new_amount: Decimal,
    new_term_months: int,
    effective_date: dt.date,
    cash_out_amount: Decimal = ZERO,
    today: dt.date | None = None,
) -> list[RuleFailure]:
    """Every business rule of DESIGN §7 that fails, in a stable order, each with its own message."""
    failures: list[RuleFailure] = []
    number = loan.loan_number
    today = today or organization_today(loan.organization)
    # The existing loan: active and in good standing.
    if loan.status != Loan.Status.ACTIVE:
        failures.append(
            RuleFailure(
                f"Loan {number} is {loan.get_status_display().lower()}, not active: only active loans can be "
                "refinanced."
            )
        )
    if loan.days_past_due > 0:
        failures.append(
            RuleFailure(
                f"Loan {number} is {loan.days_past_due} days past due: it must be current (0 days past due) to be "
                "refinanced."
            )
        )
    existing = _in_progress(loan)
    if existing is not None:
        failures.append(_already_refinancing(loan, existing))
    # The effective date.
    if effective_date < today:
        failures.append(
            RuleFailure(
                f"The effective date {effective_date.isoformat()} is in the past (today is {today.isoformat()} in "
                f"{loan.organization.timezone}).",
                "effective_date",
            )
        )
    # The new product.
    if product is None:
        failures.append(RuleFailure(f"Loan product {product_code!r} does not exist.", "product"))
        return failures
    code = product.code
    if not product.is_active:
        failures.append(RuleFailure(f"Loan product {code} is no longer offered.", "product"))
    if new_term_months != product.term_months:
        failures.append(
            RuleFailure(
                f"Loan product {code} has a {product.term_months}-month term; the new term is {new_term_months} "
                "months.",
                "new_term_months",
            )
        )
    # Underwriting of the borrower.
    if loan.credit_score is None:
        failures.append(
            RuleFailure(
                f"The borrower's credit score is missing: loan product {code} needs a score of at least "
                f"{product.min_credit_score}."
            )
        )
    elif loan.credit_score < product.min_credit_score:
        failures.append(
            RuleFailure(
                f"The borrower's credit score of {loan.credit_score} is below loan product {code}'s minimum of "
                f"{product.min_credit_score}."
            )
        )
    if loan.dti is None:
        failures.append(
            RuleFailure(
                f"The borrower's debt-to-income ratio (DTI) is missing: loan product {code} allows at most "
                f"{product.max_dti}%."
            )
        )
    elif loan.dti > product.max_dti:
        failures.append(
            RuleFailure(
                f"The borrower's debt-to-income ratio (DTI) of {loan.dti}% is above loan product {code}'s maximum "
                f"of {product.max_dti}%."
            )
        )
    # The new loan pays the existing one off in full, with its closing costs and the cash-out.
    cash_out = money(cash_out_amount)
    quote = refinance_calculate(
        loan=loan, product=product, effective_date=effective_date, cash_out_amount=cash_out, new_amount=new_amount
    )
    needed = quote.payoff.total + quote.closing_costs + cash_out
    if new_amount < needed:
        minimum_costs = product_closing_costs(product=product, amount=quote.minimum_amount)
        failures.append(
            RuleFailure(
                f"The new loan amount of {_usd(new_amount)} does not pay off the existing loan in full: it must be at "
                f"least {_usd(quote.minimum_amount)} (payoff {_usd(quote.payoff.total)} + closing costs "
                f"{_usd(minimum_costs)} + cash-out {_usd(cash_out)}).",
                "new_amount",
            )
        )
    # Collateral.
    kind = "cash-out" if cash_out > 0 else "rate-term"
    if not loan.property_value:
        failures.append(RuleFailure("The property value is missing, so the collateral cannot be checked."))
    elif new_amount * 100 > loan.property_value * quote.max_ltv:
        failures.append(
            RuleFailure(
                f"Insufficient collateral: the new amount is {quote.ltv}% of the property value "
                f"({_usd(loan.property_value)}); loan product {code} allows at most {quote.max_ltv}% for a {kind} "
                f"refinance (at most {_usd(quote.maximum_amount)}).",
                "cash_out_amount" if cash_out > 0 else "new_amount",
            )
        )
    if product.max_loan_amount is not None and new_amount > product.max_loan_amount:
        failures.append(
            RuleFailure(
                f"The new amount of {_usd(new_amount)} is above loan product {code}'s maximum loan amount of "
                f"{_usd(product.max_loan_amount)}.",
                "new_amount",
            )
        )
    return failures


# --- Initiate ------------------------------------------------------------------------------------------------


def _new_loan_number(loan: Loan) -> str:
    """``<old number>-R<n>``, the first n free in the organization (cancelled refinances keep their number)."""
    base = loan.loan_number[:34]
    taken = set(
        Loan.objects.for_organization(loan.organization_id)
        .filter(loan_number__startswith=f"{base}-R")
        .values_list("loan_number", flat=True)
    )
    n = 1
    while f"{base}-R{n}" in taken:
        n += 1
    return f"{base}-R{n}"


def _new_loan_create(
    *,
    loan: Loan,
    product: LoanProduct,
    amount: Decimal,
    new_rate: Decimal,
    term_months: int,
    effective_date: dt.date,
    cash_out: Decimal,
) -> Loan:
    first_payment = finance.add_months(effective_date.replace(day=1), 2)
    new_loan = Loan(
        organization_id=loan.organization_id,
        loan_number=_new_loan_number(loan),
        borrower_id=loan.borrower_id,
        co_borrower_id=loan.co_borrower_id,
        loan_officer_id=loan.loan_officer_id,
        branch_id=loan.branch_id,
        product_type=product.product_type,
        amortization=product.rate_type,
        purpose=Loan.Purpose.CASH_OUT_REFI if cash_out > 0 else Loan.Purpose.RATE_TERM_REFI,
        lien_position=loan.lien_position,
        occupancy=loan.occupancy,
        original_amount=amount,
        note_rate=new_rate,
        term_months=term_months,
        note_date=effective_date,
        first_payment_date=first_payment,
        maturity_date=finance.add_months(first_payment, term_months - 1),
        property_value=loan.property_value,
        property_value_date=loan.property_value_date,
        property_street=loan.property_street,
        property_city=loan.property_city,
        property_state=loan.property_state,
        property_zip=loan.property_zip,
        credit_score=loan.credit_score,
        dti=loan.dti,
        status=Loan.Status.PENDING,
        refinanced_from=loan,
        source=Loan.Source.REFINANCE,
    )
    new_loan.full_clean()
    new_loan.save()
    return new_loan


def refinance_initiate(
    *,
    loan: Loan,
    product_code: str,
    new_amount: Decimal,
    new_rate: Decimal,
    new_term_months: int,
    reason: str,
    effective_date: dt.date,
    cash_out_amount: Decimal = ZERO,
    notes: str = "",
    actor: Any = None,
    opportunity: Opportunity | None = None,
    idempotency_key: str = "",
    channel: str = "form",
) -> RefinanceTransaction:
    """Initiate a refinance of ``loan``, or raise RefinanceRulesFailed listing every rule that fails.

    The caller has already scoped ``loan`` to what the user (or API token) may see. ``channel`` says where
    the request came from ("form" or "api"); it is recorded in the audit trail.
    """
    try:
        with transaction.atomic():
            return _initiate_locked(
                loan=loan,
                product_code=product_code,
                new_amount=money(new_amount),
                new_rate=rate(new_rate),
                new_term_months=new_term_months,
                reason=reason.strip(),
                effective_date=effective_date,
                cash_out=money(cash_out_amount),
                notes=notes.strip(),
                actor=actor,
                opportunity=opportunity,
                idempotency_key=idempotency_key,
                channel=channel,
            )
    except IntegrityError:
        # A concurrent initiation of the same loan won the race (one in-progress transaction per loan).
        existing = _in_progress(loan)
        if existing is None:
            raise
        raise RefinanceRulesFailed([_already_refinancing(loan, existing)]) from None


def _initiate_locked(
    *,
    loan: Loan,
    product_code: str,
    new_amount: Decimal,
    new_rate: Decimal,
    new_term_months: int,
    reason: str,
    effective_date: dt.date,
    cash_out: Decimal,
    notes: str,
    actor: Any,
    opportunity: Opportunity | None,
    idempotency_key: str,
    channel: str,
) -> RefinanceTransaction:
    # Serialises initiations of one loan: the second waits here, then sees the first's transaction.
    locked = Loan.objects.select_for_update(of=("self",)).select_related("organization").get(pk=loan.pk)
    product = product_by_code(organization=locked.organization_id, code=product_code)
    failures = refinance_rule_failures(
        loan=locked,
        product_code=product_code,
        product=product,
        new_amount=new_amount,
        new_term_months=new_term_months,
        effective_date=effective_date,
        cash_out_amount=cash_out,
    )
    if failures:
        raise RefinanceRulesFailed(failures)
    assert product is not None  # an unknown product is a rule failure
    quote = refinance_calculate(
        loan=locked, product=product, effective_date=effective_date, cash_out_amount=cash_out, new_amount=new_amount
    )
    new_loan = _new_loan_create(
        loan=locked,
        product=product,
        amount=new_amount,
        new_rate=new_rate,
        term_months=new_term_months,
        effective_date=effective_date,
        cash_out=cash_out,
    )
    if opportunity is None or opportunity.loan_id != locked.pk:
        opportunity = Opportunity.objects.open().filter(loan=locked).first()
    refinance = RefinanceTransaction(
        organization_id=locked.organization_id,
        reference=f"RT-{secrets.token_hex(5).upper()}",
        existing_loan=locked,
        new_loan=new_loan,
        opportunity=opportunity,
        product=product,
        existing_balance=quote.payoff.total,
        new_amount=new_amount,
        new_rate=new_rate,
        new_term_months=new_term_months,
        cash_out_amount=cash_out,
        closing_costs=quote.closing_costs,
        effective_date=effective_date,
        reason=reason,
        notes=notes,
        status=Status.INITIATED,
        idempotency_key=idempotency_key,
        initiated_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    # The one-in-progress-per-loan constraint is enforced by the database (IntegrityError above).
    refinance.full_clean(validate_constraints=False)
    refinance.save()
    source = "the command API" if channel == "api" else "the opportunity page"
    _event_record(refinance=refinance, from_status="", actor=actor, note=f"Initiated from {source}.")
    if opportunity is not None:
        activity_record(
            opportunity=opportunity,
            kind=Activity.Kind.REFINANCE_INITIATED,
            actor=actor,
            body=(
                f"Refinance {refinance.reference} initiated from {source}: new loan {new_loan.loan_number}, "
                f"{_usd(new_amount)} at {new_rate}% for {new_term_months} months, effective "
                f"{effective_date.isoformat()}."
            ),
            data={"refinance": refinance.reference, "new_loan": new_loan.loan_number, "channel": channel},
        )
        if opportunity.is_open:
            opportunity_change_stage(
                opportunity=opportunity,
                stage=Opportunity.Stage.APPLICATION,
                actor=actor,
                note=f"Refinance {refinance.reference} initiated.",
                source=f"refinance_{channel}",
            )
        # An application started is a stop condition of the outreach sequence (DESIGN §6).
        enrollment_stop_for_opportunity(
            opportunity=opportunity,
            reason=Enrollment.StopReason.APPLICATION,
            actor=actor,
            note=f"Refinance {refinance.reference} initiated.",
        )
    return refinance


# --- Status changes ------------------------------------------------------------------------------------------

_ALLOWED_FROM = {
    Status.APPROVED: (Status.INITIATED,),
    Status.FUNDED: (Status.APPROVED,),
    Status.CANCELLED: (Status.INITIATED, Status.APPROVED),
}
_VERB = {Status.APPROVED: "approved", Status.FUNDED: "funded", Status.CANCELLED: "cancelled"}


def _event_record(*, refinance: RefinanceTransaction, from_status: str, actor: Any, note: str) -> RefinanceEvent:
    event = RefinanceEvent(
        transaction=refinance,
        from_status=from_status,
        to_status=refinance.status,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        note=note,
    )
    event.full_clean()
    event.save()
    return event


def _status_change(*, refinance: RefinanceTransaction, to_status: str, actor: Any, note: str) -> RefinanceTransaction:
    locked = (
        RefinanceTransaction.objects.select_for_update(of=("self",))
        .select_related("existing_loan", "new_loan", "opportunity")
        .get(pk=refinance.pk)
    )
    if locked.status not in _ALLOWED_FROM[to_status]:
        raise RefinanceStatusError(
            f"Refinance {locked.reference} is {locked.get_status_display().lower()}; it cannot be {_VERB[to_status]}."
        )
    previous = locked.status
    locked.status = to_status
    locked.full_clean()
    locked.save(update_fields=["status", "updated_at"])
    _event_record(refinance=locked, from_status=previous, actor=actor, note=note)
    if locked.opportunity is not None:
        activity_record(
            opportunity=locked.opportunity,
            kind=Activity.Kind.REFINANCE_STATUS,
            actor=actor,
            body=f"Refinance {locked.reference} {_VERB[to_status]}." + (f" {note}" if note else ""),
            data={"refinance": locked.reference, "from": previous, "to": to_status},
        )
    refinance.status = locked.status
    return locked


@transaction.atomic
def refinance_approve(*, refinance: RefinanceTransaction, actor: Any, note: str = "") -> RefinanceTransaction:
    """Underwriting approved the refinance (initiated → approved)."""
    return _status_change(refinance=refinance, to_status=Status.APPROVED, actor=actor, note=note)


@transaction.atomic
def refinance_fund(*, refinance: RefinanceTransaction, actor: Any, note: str = "") -> RefinanceTransaction:
    """The new loan funded (approved → funded): it becomes active and the existing loan becomes refinanced."""
    locked = _status_change(refinance=refinance, to_status=Status.FUNDED, actor=actor, note=note)
    new_loan, old_loan = locked.new_loan, locked.existing_loan
    if new_loan is not None:
        new_loan.status = Loan.Status.ACTIVE
        new_loan.current_upb = locked.new_amount
        new_loan.upb_as_of = locked.effective_date
        new_loan.refinanced_from = old_loan
        new_loan.full_clean()
        new_loan.save(update_fields=["status", "current_upb", "upb_as_of", "refinanced_from", "updated_at"])
    old_loan.status = Loan.Status.REFINANCED
    old_loan.full_clean()
    old_loan.save(update_fields=["status", "updated_at"])
    if locked.opportunity is not None and locked.opportunity.is_open:
        opportunity_change_stage(
            opportunity=locked.opportunity,
            stage=Opportunity.Stage.WON,
            actor=actor,
            note=f"Refinance {locked.reference} funded.",
            source="refinance",
        )
    return locked


@transaction.atomic
def refinance_cancel(*, refinance: RefinanceTransaction, actor: Any, note: str = "") -> RefinanceTransaction:
    """Cancel an initiated or approved refinance. Nothing is deleted: the pending new loan is closed."""
    locked = _status_change(refinance=refinance, to_status=Status.CANCELLED, actor=actor, note=note)
    if locked.new_loan is not None and locked.new_loan.status == Loan.Status.PENDING:
        locked.new_loan.status = Loan.Status.CLOSED
        locked.new_loan.full_clean()
        locked.new_loan.save(update_fields=["status", "updated_at"])
    return locked


def refinance_defaults(*, loan: Loan, opportunity: Opportunity | None = None) -> dict[str, Any]:
    """Prefill for the initiate form: the matching product, its term, today's market rate, an effective date
    30 days out, and the smallest amount that pays the loan off in full (payoff + financed closing costs)."""
    today = organization_today(loan.organization)
    effective = today + dt.timedelta(days=DEFAULT_EFFECTIVE_DAYS)
    initial: dict[str, Any] = {"effective_date": effective, "cash_out_amount": ZERO, "reason": "Lower interest rate"}
    product = product_for_loan(loan=loan)
    if product is None:
        return initial
    initial.update(product=product, new_term_months=product.term_months)
    market = market_rates(organization=loan.organization, as_of=today).get(
        (product.product_type, term_bucket(product.term_months))
    )
    if market is not None:
        initial["new_rate"] = market.rate
    elif opportunity is not None:
        initial["new_rate"] = opportunity.market_rate
    quote = refinance_calculate(loan=loan, product=product, effective_date=effective)
    initial["new_amount"] = quote.minimum_amount
    return initial
