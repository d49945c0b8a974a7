from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from loans.models import LoanImport
from loans.services.uploads import upload_quota_check


class LoanImportUploadForm(forms.Form):
    file = forms.FileField(
        label="LOS export",
        help_text="A CSV file (see the column list) or a MISMO 3.x XML export.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xml,text/csv,application/xml,text/xml"}),
    )
    format = forms.ChoiceField(
        label="Format",
        choices=[("", "Detect from the file"), *LoanImport.Format.choices],
        required=False,
    )

    def __init__(self, *args: Any, user: Any = None, zone: ZoneInfo | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user, self.zone = user, zone

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size is not None and upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(settings.IMPORT_MAX_BYTES)}. "
                "Split it, or ask an admin to run the import_loans command."
            )
        if not upload.size:
            raise forms.ValidationError("The file is empty.")
        if self.user is not None:
            upload_quota_check(user=self.user, size=upload.size, zone=self.zone or ZoneInfo("UTC"))
        return upload


class LoanImportCommitForm(forms.Form):
    allow_partial = forms.BooleanField(
        required=False,
        label="Import the valid rows and skip the rejected ones",
        help_text="Leave unticked to import the file only when every row is valid.",
    )
