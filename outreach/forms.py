from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from outreach.models import BookingRequest, SequenceStep
from outreach.rendering import TOKENS
from outreach.services.sequences import step_validate


def normalize_us_phone(value: str) -> str:
    """Accept "(312) 555-0100", "312.555.0100", "+1 312 555 0100", or any E.164 number; return E.164."""
    raw = (value or "").strip()
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+") and 8 <= len(digits) <= 15:
        return f"+{digits}"
    if len(digits) == 10:
        return f"+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+{digits}"
    raise ValidationError("Enter a phone number we can call, e.g. (312) 555-0100.")


class BookingForm(forms.Form):
    phone = forms.CharField(
        label="Phone number", max_length=25, widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"})
    )
    preferred_windows = forms.MultipleChoiceField(
        label="Best times to call",
        choices=BookingRequest.Window.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    preferred_date = forms.DateField(
        label="Preferred day (optional)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    notes = forms.CharField(
        label="Anything we should know? (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_phone(self) -> str:
        return normalize_us_phone(self.cleaned_data["phone"])

    def clean_preferred_date(self) -> Any:
        value = self.cleaned_data.get("preferred_date")
        if value and value < timezone.localdate():
            raise ValidationError("Pick today or a later day.")
        return value


TOKEN_HELP = "Tokens: " + ", ".join(f"{{{{ {name} }}}}" for name in TOKENS) + "."


class SequenceStepForm(forms.ModelForm):
    """Admin inline form: templates must compile and render against sample tokens before they are saved."""

    class Meta:
        model = SequenceStep
        fields = ["position", "day_offset", "channel", "subject_template", "body_template"]
        widgets = {"body_template": forms.Textarea(attrs={"rows": 8, "cols": 80})}
        help_texts = {"body_template": TOKEN_HELP}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("channel") and cleaned.get("body_template") is not None:
            step_validate(
                channel=cleaned["channel"],
                subject_template=cleaned.get("subject_template") or "",
                body_template=cleaned.get("body_template") or "",
            )
        return cleaned
