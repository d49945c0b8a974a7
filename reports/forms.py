from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from reports.periods import DEFAULT_PRESET, MAX_DAYS, PRESETS, Period, preset_period


class ReportPeriodForm(forms.Form):
    """The report's period: a preset ending today, or a custom start and end date (inclusive)."""

    preset = forms.ChoiceField(choices=[(key, label) for key, (label, _days) in PRESETS.items()], required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, timezone: str, now: dt.datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone = timezone
        self.now = now

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start or end:
            if not (start and end):
                raise forms.ValidationError("Give both a start and an end date, or choose a preset.")
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"A report covers at most {MAX_DAYS} days.")
        return data

    def period(self) -> Period:
        """The chosen period; the default (last 7 days) when nothing or something invalid was chosen."""
        if self.is_bound and self.is_valid():
            data = self.cleaned_data
            if data.get("start") and data.get("end"):
                return Period(start=data["start"], end=data["end"], timezone=self.timezone)
            if data.get("preset"):
                return preset_period(data["preset"], timezone=self.timezone, now=self.now)
        return preset_period(DEFAULT_PRESET, timezone=self.timezone, now=self.now)
