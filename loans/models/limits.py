from __future__ import annotations

from django.db import models
from django.db.models import Q

from loans.models.portfolio import MONEY


class LoanLimit(models.Model):
    """One county's loan limits (one unit) for one year: FHFA's conforming limit and HUD's FHA limit.

    Public reference data, like the FRED series: no organization. Loaded from the yearly files by
    ``manage.py load_loan_limits`` (the shipped 2026 FHFA and 2025 FHA files by migration).
    """

    year = models.PositiveSmallIntegerField()
    county_fips = models.CharField("county FIPS", max_length=5)
    state = models.CharField(max_length=2)
    county_name = models.CharField(max_length=100)
    conforming_limit = models.DecimalField(**MONEY, null=True, blank=True)
    fha_limit = models.DecimalField("FHA limit", **MONEY, null=True, blank=True)
    source = models.CharField(max_length=300, blank=True, help_text="The file it was loaded from.")

    class Meta:
        ordering = ["year", "county_fips"]
        constraints = [
            # The match joins a loan's county to its year's row (one per county and year).
            models.UniqueConstraint(fields=["year", "county_fips"], name="%(app_label)s_%(class)s_unique_county_year"),
            models.CheckConstraint(
                condition=Q(county_fips__regex=r"^[0-9]{5}$"), name="%(app_label)s_%(class)s_fips_format"
            ),
            models.CheckConstraint(
                condition=(Q(conforming_limit__isnull=True) | Q(conforming_limit__gt=0))
                & (Q(fha_limit__isnull=True) | Q(fha_limit__gt=0)),
                name="%(app_label)s_%(class)s_limits_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county_name}, {self.state} ({self.year})"
