"""The "Initiate refinance" form on an opportunity: types and ranges here, business rules in the service."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms

from core.models import Organization
from core.money import ZERO
from loans.models import LoanProduct


class RefinanceInitiateForm(forms.Form):
    product = forms.ModelChoiceField(queryset=LoanProduct.objects.none(), label="New loan product")
    new_amount = forms.DecimalField(
        label="New loan amount ($)",
        max_digits=13,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="Pays off the existing loan, the (financed) closing costs and any cash-out.",
    )
    new_rate = forms.DecimalField(
        label="Interest rate (%)", max_digits=6, decimal_places=3, min_value=Decimal("0.001"), max_value=Decimal("25")
    )
    new_term_months = forms.IntegerField(
        label="Term (months)", min_value=12, max_value=480, help_text="The product's term."
    )
    effective_date = forms.DateField(label="Effective date", widget=forms.DateInput(attrs={"type": "date"}))
    cash_out_amount = forms.DecimalField(
        label="Cash-out ($)", max_digits=13, decimal_places=2, min_value=Decimal("0"), required=False
    )
    reason = forms.CharField(label="Reason", max_length=200)
    notes = forms.CharField(label="Notes", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    # One value per rendered form: a second submit of the same form finds the first one's refinance.
    submission_token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = LoanProduct.objects.for_organization(organization).filter(is_active=True)

    @staticmethod
    def new_submission_token() -> str:
        return uuid.uuid4().hex

    def clean_cash_out_amount(self) -> Decimal:
        return self.cleaned_data.get("cash_out_amount") or ZERO

    def values(self) -> dict[str, Any]:
        """What is known so far: the valid cleaned fields of a bound form, or the initial values."""
        if self.is_bound:
            self.is_valid()
            return dict(self.cleaned_data)
        return dict(self.initial)
