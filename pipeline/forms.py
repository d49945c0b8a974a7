"""Forms of the opportunity page; each hands its cleaned data to a service in loans.services.opportunities."""

from __future__ import annotations

from django import forms

from pipeline.models import Opportunity


class StageChangeForm(forms.Form):
    stage = forms.ChoiceField(label="Stage", choices=Opportunity.Stage.choices)
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "Why, for the timeline"}),
    )


class NoteForm(forms.Form):
    body = forms.CharField(label="Note", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError("A note cannot be empty.")
        return body
