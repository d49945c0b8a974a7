"""Initiate a refinance from an opportunity (with a live htmx preview), and a refinance's detail page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from core.money import ZERO
from core.tenancy import get_visible_or_404
from loans.models import Loan
from pipeline.models import Opportunity
from refinance.forms import RefinanceInitiateForm
from refinance.models import RefinanceTransaction
from refinance.rules import (
    RefinanceQuote,
    RefinanceRulesFailed,
    RuleFailure,
    refinance_calculate,
    refinance_rule_failures,
)
from refinance.services import refinance_defaults, refinance_initiate


def _opportunity(request: HttpRequest, pk: int) -> Opportunity:
    return get_visible_or_404(
        Opportunity.objects.select_related("loan", "loan__organization", "loan__borrower", "organization"),
        request.user,
        pk=pk,
    )


def _preview(form: RefinanceInitiateForm, loan: Loan) -> tuple[RefinanceQuote | None, list[RuleFailure]]:
    """The numbers and rule checks for what the form holds so far (fields with errors are left out)."""
    values = form.values()
    product, effective = values.get("product"), values.get("effective_date")
    if product is None or effective is None:
        return None, []
    amount, term = values.get("new_amount"), values.get("new_term_months")
    cash_out = values.get("cash_out_amount") or ZERO
    quote = refinance_calculate(
        loan=loan,
        product=product,
        effective_date=effective,
        cash_out_amount=cash_out,
        new_amount=amount,
        new_rate=values.get("new_rate"),
        new_term_months=term,
    )
    failures: list[RuleFailure] = []
    if amount is not None and term is not None:
        failures = refinance_rule_failures(
            loan=loan,
            product_code=product.code,
            product=product,
            new_amount=amount,
            new_term_months=term,
            effective_date=effective,
            new_rate=values.get("new_rate"),
            cash_out_amount=cash_out,
            rate_lock_expiration=values.get("rate_lock_expiration"),
        )
    return quote, failures


def _submitted(loan: Loan, key: str) -> RefinanceTransaction | None:
    return RefinanceTransaction.objects.filter(organization_id=loan.organization_id, idempotency_key=key).first()


@login_required
@require_http_methods(["GET", "POST"])
def refinance_initiate_view(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _opportunity(request, pk)
    loan = opportunity.loan
    organization = loan.organization
    in_progress = (
        RefinanceTransaction.objects.filter(existing_loan=loan, status__in=RefinanceTransaction.IN_PROGRESS)
        .select_related("new_loan")
        .first()
    )
    if request.method == "POST":
        form = RefinanceInitiateForm(request.POST, organization=organization)
        quote, failures = _preview(form, loan)
        if form.is_valid():
            key = f"form:{form.cleaned_data['submission_token']}"
            done = _submitted(loan, key)
            if done is not None:  # the same form submitted twice: show the first submit's refinance
                return redirect("refinance:detail", pk=done.pk)
            if not opportunity.is_open:
                form.add_error(None, f"This opportunity is {opportunity.get_stage_display().lower()}: it is closed.")
            else:
                response = _initiate(request, form, opportunity, key)
                if response is not None:
                    return response
    else:
        initial = refinance_defaults(loan=loan, opportunity=opportunity)
        initial["submission_token"] = RefinanceInitiateForm.new_submission_token()
        form = RefinanceInitiateForm(initial=initial, organization=organization)
        quote, failures = _preview(form, loan)
    context: dict[str, Any] = {
        "opportunity": opportunity,
        "loan": loan,
        "form": form,
        "quote": quote,
        "failures": failures,
        "in_progress": in_progress,
    }
    return render(request, "refinance/initiate.html", context)


def _initiate(
    request: HttpRequest, form: RefinanceInitiateForm, opportunity: Opportunity, key: str
) -> HttpResponse | None:
    data = form.cleaned_data
    try:
        refinance = refinance_initiate(
            loan=opportunity.loan,
            product_code=data["product"].code,
            new_amount=data["new_amount"],
            new_rate=data["new_rate"],
            new_term_months=data["new_term_months"],
            reason=data["reason"],
            effective_date=data["effective_date"],
            rate_lock_expiration=data.get("rate_lock_expiration"),
            cash_out_amount=data["cash_out_amount"],
            notes=data["notes"],
            actor=request.user,
            opportunity=opportunity,
            idempotency_key=key,
            channel="form",
        )
    except RefinanceRulesFailed as exc:
        done = _submitted(opportunity.loan, key)
        if done is not None:  # a concurrent submit of this same form won the race
            return redirect("refinance:detail", pk=done.pk)
        for failure in exc.failures:
            form.add_error(failure.field if failure.field in form.fields else None, failure.message)
        return None
    messages.success(
        request,
        f"Refinance {refinance.reference} initiated: new loan {refinance.new_loan} is pending. "
        "The opportunity moved to Application.",
    )
    return redirect("refinance:detail", pk=refinance.pk)


@login_required
@require_GET
def refinance_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The live numbers beside the form (htmx swaps this partial as the fields change)."""
    opportunity = _opportunity(request, pk)
    form = RefinanceInitiateForm(request.GET, organization=opportunity.loan.organization)
    quote, failures = _preview(form, opportunity.loan)
    return render(
        request,
        "refinance/preview.html",
        {
            "opportunity": opportunity,
            "loan": opportunity.loan,
            "quote": quote,
            "failures": failures,
            "form": form,
            "field_errors": True,  # the same field errors the submit shows, as the fields change
        },
    )


@login_required
@require_GET
def refinance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    refinance = get_visible_or_404(
        RefinanceTransaction.objects.select_related(
            "existing_loan", "existing_loan__borrower", "new_loan", "product", "opportunity", "initiated_by"
        ),
        request.user,
        pk=pk,
    )
    events = refinance.events.select_related("actor")
    return render(request, "refinance/detail.html", {"refinance": refinance, "events": events})
