from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from campaigns.models import Campaign
from campaigns.selectors import DEFAULT_BODY, DEFAULT_SUBJECT
from core.choices import Channel
from outreach.rendering import TOKENS
from outreach.services.sequences import step_validate

TOKEN_HELP = "Tokens: " + ", ".join(f"{{{{ {name} }}}}" for name in TOKENS)


class CampaignForm(forms.Form):
    """One email template, checked as a sequence step's is: it compiles and renders, and a rate or a payment
    carries its Regulation Z text ({{ rate_note }}, {{ payment_terms }})."""

    name = forms.CharField(max_length=120, initial="Rate alert")
    subject_template = forms.CharField(
        label="Subject", max_length=200, initial=DEFAULT_SUBJECT, widget=forms.TextInput(attrs={"size": 60})
    )
    body_template = forms.CharField(
        label="Email body",
        initial=DEFAULT_BODY,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text=TOKEN_HELP + ". Every email ends with the lender's postal address and an unsubscribe link.",
    )

    def __init__(self, *args: Any, instance: Campaign | None = None, **kwargs: Any) -> None:
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name,
                "subject_template": instance.subject_template,
                "body_template": instance.body_template,
            }
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        subject, body = cleaned.get("subject_template"), cleaned.get("body_template")
        if subject is None or body is None:
            return cleaned
        try:
            step_validate(channel=Channel.EMAIL, subject_template=subject, body_template=body)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(field, message)
        return cleaned
