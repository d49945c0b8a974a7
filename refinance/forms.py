"""The "Initiate refinance" form on an opportunity: types and ranges here, business rules in the service."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms

from core.models import Organization
from core.money import ZERO
from loans.models import LoanProduct
from refinance import limits


class RefinanceInitiateForm(forms.Form):
    product = forms.ModelChoiceField(queryset=LoanProduct.objects.none(), label="New loan product")
    new_amount = forms.DecimalField(
        label="New loan amount ($)",
        max_digits=limits.AMOUNT_DIGITS,
        decimal_places=limits.AMOUNT_PLACES,
        min_value=Decimal("0.01"),
        max_value=limits.MAX_AMOUNT,
        help_text="Pays off the existing loan, the (financed) closing costs and any cash-out.",
    )
    new_rate = forms.DecimalField(
        label="Interest rate (%)",
        max_digits=limits.RATE_DIGITS,
        decimal_places=limits.RATE_PLACES,
        min_value=limits.MIN_RATE_EXCLUSIVE + Decimal(1).scaleb(-limits.RATE_PLACES),
        max_value=limits.MAX_RATE,
    )
    new_term_months = forms.IntegerField(
        label="Term (months)", min_value=limits.MIN_TERM, max_value=limits.MAX_TERM, help_text="The product's term."
    )
    effective_date = forms.DateField(label="Effective date", widget=forms.DateInput(attrs={"type": "date"}))
    rate_lock_expiration = forms.DateField(
        label="Rate lock expires",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: the borrower and you are alerted before it expires.",
    )
    cash_out_amount = forms.DecimalField(
        label="Cash-out ($)",
        max_digits=limits.AMOUNT_DIGITS,
        decimal_places=limits.AMOUNT_PLACES,
        min_value=Decimal("0"),
        max_value=limits.MAX_AMOUNT,
        required=False,
    )
    reason = forms.CharField(label="Reason", max_length=limits.REASON_MAX_LENGTH)
    notes = forms.CharField(
        label="Notes", max_length=limits.NOTES_MAX_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # One value per rendered form: a second submit of the same form finds the first one's refinance.
    submission_token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = LoanProduct.objects.for_organization(organization).filter(is_active=True)

    @staticmethod
    def new_submission_token() -> str:
        return uuid.uuid4().hex

    def clean_effective_date(self) -> Any:
        day = self.cleaned_data.get("effective_date")
        if day is not None and not limits.MIN_DATE <= day <= limits.MAX_DATE:
            raise forms.ValidationError(
                f"Must be between {limits.MIN_DATE.isoformat()} and {limits.MAX_DATE.isoformat()}."
            )
        return day

    def clean_rate_lock_expiration(self) -> Any:
        day = self.cleaned_data.get("rate_lock_expiration")
        if day is not None and not limits.MIN_DATE <= day <= limits.MAX_DATE:
            raise forms.ValidationError(
                f"Must be between {limits.MIN_DATE.isoformat()} and {limits.MAX_DATE.isoformat()}."
            )
        return day

    def clean_cash_out_amount(self) -> Decimal:
        return self.cleaned_data.get("cash_out_amount") or ZERO

    def values(self) -> dict[str, Any]:
        """What is known so far: the valid cleaned fields of a bound form, or the initial values."""
        if self.is_bound:
            self.is_valid()
            return dict(self.cleaned_data)
        return dict(self.initial)
