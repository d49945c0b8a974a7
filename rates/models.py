from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.choices import ProductType, choices_check
from core.formatting import date_text, datetime_text
from core.models import Organization
from core.money import MAX_RATE, percent
from core.tenancy import TenantQuerySet, profile_for

RATE = {"max_digits": 6, "decimal_places": 3}


class RateSeriesQuerySet(TenantQuerySet):
    def visible_to(self, user):  # type: ignore[no-untyped-def]
        """Public market series (FRED) are readable by every tenant; an org's own rate sheets only by it."""
        profile = profile_for(user)
        if profile is None:
            return self.none()
        return self.filter(Q(organization__isnull=True) | Q(organization=profile.organization_id))

    def for_organization(self, organization):  # type: ignore[no-untyped-def]
        org_id = getattr(organization, "pk", organization)
        return self.filter(Q(organization__isnull=True) | Q(organization=org_id))


class RateSeriesSource(models.TextChoices):
    FRED = "fred", "FRED"
    MANUAL = "manual", "Entered by hand"
    RATE_SHEET = "rate_sheet", "Rate-sheet upload"


class RateSeries(models.Model):
    """A market rate series: a FRED series (public, no organization) or an organization's own rate sheet."""

    Source = RateSeriesSource
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rate_series",
        help_text="Empty for public market series shared by every organization.",
    )
    code = models.CharField(max_length=40, help_text="FRED series id (e.g. OBMMIC30YF) or the rate sheet's name.")
    title = models.CharField(max_length=200)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.FRED)
    product_type = models.CharField(max_length=12, choices=ProductType.choices, blank=True)
    term_months = models.PositiveSmallIntegerField(null=True, blank=True)
    frequency = models.CharField(max_length=10, default="daily", help_text="daily or weekly")
    fetch_enabled = models.BooleanField(default=False, help_text="Fetched from FRED by the daily schedule.")

    objects = RateSeriesQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "rate series"
        constraints = [
            choices_check("source", RateSeriesSource, "%(app_label)s_%(class)s_source_valid"),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(organization__isnull=True),
                name="%(app_label)s_%(class)s_unique_public_code",
            ),
            models.UniqueConstraint(
                fields=["organization", "code"],
                condition=Q(organization__isnull=False),
                name="%(app_label)s_%(class)s_unique_org_code",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class RateObservation(models.Model):
    """One value of a series on one date, in percent with three decimals."""

    series = models.ForeignKey(RateSeries, on_delete=models.CASCADE, related_name="observations")
    date = models.DateField()
    rate = models.DecimalField(**RATE)
    source = models.CharField(max_length=12, choices=RateSeries.Source.choices, default=RateSeries.Source.FRED)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["series", "-date"]
        get_latest_by = "date"
        constraints = [
            models.UniqueConstraint(fields=["series", "date"], name="%(app_label)s_%(class)s_one_per_date"),
            models.CheckConstraint(
                condition=Q(rate__gte=0, rate__lte=MAX_RATE), name="%(app_label)s_%(class)s_rate_range"
            ),
            choices_check("source", RateSeries.Source, "%(app_label)s_%(class)s_source_valid"),
        ]
        indexes = [
            # Latest observation per series (match, staleness banner) and history ranges (rates page).
            models.Index(fields=["series", "-date"], name="rates_obs_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.series_id} {date_text(self.date)}: {percent(self.rate)}"


class RateRevision(models.Model):
    """A published value that changed after we stored it (FRED revisions, corrected rate sheets)."""

    observation = models.ForeignKey(RateObservation, on_delete=models.CASCADE, related_name="revisions")
    old_rate = models.DecimalField(**RATE)
    new_rate = models.DecimalField(**RATE)
    source = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.observation}: {percent(self.old_rate)} → {percent(self.new_rate)}"


class SeriesMapping(models.Model):
    """Which series prices a loan product type and term for one organization (fallback used when empty)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="series_mappings")
    product_type = models.CharField(max_length=12, choices=ProductType.choices)
    term_months = models.PositiveSmallIntegerField(help_text="360 for 30-year, 180 for 15-year products.")
    series = models.ForeignKey(RateSeries, on_delete=models.PROTECT, related_name="mappings")
    fallback_series = models.ForeignKey(
        RateSeries,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="fallback_mappings",
        help_text="Used when the main series has no observation (PMMS by default).",
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["product_type", "term_months"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "product_type", "term_months"], name="%(app_label)s_%(class)s_unique_product"
            ),
            choices_check("product_type", ProductType, "%(app_label)s_%(class)s_product_type_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_product_type_display()} {self.term_months}m → {self.series}"


class RateFetchStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RateFetch(models.Model):
    """One attempt to fetch a series from FRED: when, what was stored, and why it failed."""

    Status = RateFetchStatus

    series = models.ForeignKey(RateSeries, on_delete=models.CASCADE, related_name="fetches")
    status = models.CharField(max_length=10, choices=Status.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    observations_received = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    revised = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "rate fetches"
        constraints = [choices_check("status", RateFetchStatus, "%(app_label)s_%(class)s_status_valid")]

    def __str__(self) -> str:
        return f"{self.series} {datetime_text(self.started_at)} {self.get_status_display()}"
