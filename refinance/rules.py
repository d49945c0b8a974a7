"""The numbers and business rules of a refinance (DESIGN §7): payoff, closing costs, amounts, LTV, and every
rule that can refuse it, each with its own message. ``refinance.services`` acts on them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from core.models import Organization
from core.money import CENT, ZERO, money, money_down, money_up, rate
from loans import finance
from loans.models import Loan, LoanProduct
from refinance.compliance import RuleFailure, benefit_failures, product_fit_failures
from refinance.models import RefinanceTransaction

DEFAULT_EFFECTIVE_DAYS = 30
Status = RefinanceTransaction.Status


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
    return organization.today()


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


def loan_current_rate(loan: Loan) -> Decimal:
    """The rate the borrower pays now: an ARM's current rate when known, else the note rate."""
    return finance.rate_in_force(
        note_rate=loan.note_rate, amortization=loan.amortization, current_rate=loan.current_rate
    )


def loan_current_payment(*, loan: Loan, principal: Decimal, as_of: dt.date) -> Decimal:
    """The loan's scheduled P&I; an ARM on its current rate: ``principal`` over the months left at that rate."""
    if loan.amortization == "arm" and loan.current_rate is not None:
        left = finance.remaining_months(
            first_payment_date=loan.first_payment_date, as_of=as_of, term_months=loan.term_months
        )
        if left > 0 and principal > 0:
            return finance.payment(principal=principal, annual_rate=loan.current_rate, months=left)
    return finance.payment(principal=loan.original_amount, annual_rate=loan.note_rate, months=loan.term_months)


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
    current_payment = loan_current_payment(loan=loan, principal=payoff.principal, as_of=effective_date)
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
    new_rate: Decimal | None = None,
    cash_out_amount: Decimal = ZERO,
    today: dt.date | None = None,
    rate_lock_expiration: dt.date | None = None,
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
    # The effective date: not in the past, within the organization's rate-lock horizon.
    if effective_date < today:
        failures.append(
            RuleFailure(
                f"The effective date {effective_date.isoformat()} is in the past (today is {today.isoformat()} in "
                f"{loan.organization.timezone}).",
                "effective_date",
            )
        )
    horizon = loan.organization.rate_lock_days
    # The rate lock (optional): not already expired, no longer than the organization's rate-lock horizon (a lock
    # in 2099 would never be alerted on).
    if rate_lock_expiration is not None and not 0 <= (rate_lock_expiration - today).days <= horizon:
        failures.append(
            RuleFailure(
                f"The rate lock expiration {rate_lock_expiration.isoformat()} must be between today "
                f"({today.isoformat()}) and the end of the rate-lock horizon of {horizon} days "
                f"({(today + dt.timedelta(days=horizon)).isoformat()}).",
                "rate_lock_expiration",
            )
        )
    if (effective_date - today).days > horizon:
        failures.append(
            RuleFailure(
                f"The effective date {effective_date.isoformat()} is beyond the rate-lock horizon of {horizon} days: "
                f"it must be on or before {(today + dt.timedelta(days=horizon)).isoformat()}.",
                "effective_date",
            )
        )
        return failures  # nothing is priced that far ahead
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
    failures += product_fit_failures(loan=loan, product=product, new_amount=new_amount, today=today)
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
    # Anything above payoff + costs + cash-out (and the small tolerance) would go to the borrower: cash-out.
    excess = new_amount - needed
    tolerance = loan.organization.cash_out_tolerance
    if excess > tolerance:
        failures.append(
            RuleFailure(
                f"The new amount is {_usd(excess)} above the payoff, closing costs and declared cash-out: that is "
                f"undeclared cash-out (a rate-term refinance may return at most {_usd(tolerance)}). Declare it as "
                "cash-out, checked against the cash-out LTV, or lower the amount.",
                "cash_out_amount",
            )
        )
    if new_rate is not None:
        failures += benefit_failures(
            loan=loan,
            product=product,
            new_rate=new_rate,
            new_term_months=new_term_months,
            effective_date=effective_date,
            cash_out=cash_out,
            costs=quote.closing_costs,
            new_payment=finance.payment(principal=new_amount, annual_rate=new_rate, months=new_term_months),
            current_payment=quote.current_payment,
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
