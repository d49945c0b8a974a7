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
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from core.choices import term_bucket
from core.formatting import date_text
from core.money import ZERO, money, percent, rate
from loans import finance
from loans.models import Loan, LoanProduct
from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import activity_record, opportunity_change_stage
from pipeline.signals import application_started
from rates.selectors import market_rates
from refinance.models import RefinanceEvent, RefinanceTransaction
from refinance.rules import (
    RefinanceRulesFailed,
    RefinanceStatusError,
    _already_refinancing,
    _in_progress,
    _usd,
    organization_today,
    product_by_code,
    product_for_loan,
    refinance_calculate,
    refinance_rule_failures,
)

DEFAULT_EFFECTIVE_DAYS = 30
Status = RefinanceTransaction.Status


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
    rate_lock_expiration: dt.date | None = None,
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
                rate_lock_expiration=rate_lock_expiration,
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
    rate_lock_expiration: dt.date | None,
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
        new_rate=new_rate,
        cash_out_amount=cash_out,
        rate_lock_expiration=rate_lock_expiration,
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
        rate_lock_expiration=rate_lock_expiration,
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
                f"{_usd(new_amount)} at {percent(new_rate)} for {new_term_months} months, effective "
                f"{date_text(effective_date)}."
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
        # An application started is a stop condition of the outreach sequence (DESIGN §6); outreach listens.
        application_started.send(
            sender=RefinanceTransaction,
            opportunity=opportunity,
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
