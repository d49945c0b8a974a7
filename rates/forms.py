from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile

RATE_SHEET_MAX_BYTES = 1_048_576  # a daily desk sheet is a few hundred rows


class RateSheetUploadForm(forms.Form):
    file = forms.FileField(
        label="Rate sheet (CSV)",
        help_text="Columns product (or series), date, rate — e.g. 'Conforming 30,2026-11-20,6.125'.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    use_for_pricing = forms.BooleanField(
        required=False,
        initial=True,
        label="Price these products with the rate sheet (the series used today becomes the fallback)",
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size and upload.size > RATE_SHEET_MAX_BYTES:
            raise forms.ValidationError("A rate sheet may not exceed 1 MB.")
        return upload


class RateSheetConfirmForm(forms.Form):
    """The previewed sheet, sent back unchanged to be imported (it is checked again before writing)."""

    content = forms.CharField(widget=forms.HiddenInput, max_length=RATE_SHEET_MAX_BYTES, strip=False)
    use_for_pricing = forms.BooleanField(required=False, widget=forms.HiddenInput)
