"""Who to call first: house price indexes, each organization's propensity model and its routing policy.

The score and the marked-to-market figures of an opportunity live on ``Opportunity`` itself (pipeline): the
board, the opportunity page and the reports read them without importing this app; only this app writes them.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core.choices import choices_check
from core.formatting import date_text, datetime_text
from core.models import Organization
from core.tenancy import TenantQuerySet


class HousePriceIndexSource(models.TextChoices):
    SHIPPED = "shipped", "Shipped FHFA history (scoring/data)"
    FRED = "fred", "FRED <ST>STHPI"


class HousePriceIndex(models.Model):
    """The FHFA all-transactions house price index of one state for one quarter (public data, no organization)."""

    Source = HousePriceIndexSource
    state = models.CharField(max_length=2)
    quarter = models.DateField(help_text="First day of the quarter.")
    value = models.DecimalField(max_digits=10, decimal_places=2, help_text="1980Q1 = 100.")
    source = models.CharField(max_length=8, choices=Source.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["state", "quarter"]
        verbose_name = "house price index"
        verbose_name_plural = "house price indexes"
        constraints = [
            # Also the index of the scoring join (state, quarter of the valuation) and of "latest per state".
            models.UniqueConstraint(fields=["state", "quarter"], name="%(app_label)s_%(class)s_one_per_quarter"),
            models.CheckConstraint(condition=Q(value__gt=0), name="%(app_label)s_%(class)s_value_positive"),
            choices_check("source", HousePriceIndexSource, "%(app_label)s_%(class)s_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.state} {self.quarter.year}Q{(self.quarter.month - 1) // 3 + 1}: {self.value}"


class ScoringPolicy(models.Model):
    """An organization's routing policy and training thresholds (edited by managers in admin)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    routing_enabled = models.BooleanField(
        default=False,
        help_text=(
            "Nightly, after scoring: opportunities at or above the threshold get the default sequence and a call "
            "task for their loan officer; the rest get the monthly borrower digest. Replaces auto-enroll."
        ),
    )
    proactive_threshold = models.DecimalField(
        "proactive threshold (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("20.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Score (chance of an application within 90 days) from which an opportunity is called.",
    )
    min_training_rows = models.PositiveIntegerField(
        default=200, help_text="Outcomes (opportunity-months whose 90 days are over) needed to train a model."
    )
    min_training_applications = models.PositiveIntegerField(
        default=20, help_text="Opportunities that reached an application needed to train a model."
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "scoring policy"
        verbose_name_plural = "scoring policies"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="%(app_label)s_%(class)s_one_per_organization"),
            models.CheckConstraint(
                condition=Q(proactive_threshold__gte=0, proactive_threshold__lte=100),
                name="%(app_label)s_%(class)s_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(min_training_rows__gte=20, min_training_applications__gte=5),
                name="%(app_label)s_%(class)s_training_minimums",
            ),
        ]

    def __str__(self) -> str:
        return f"Scoring policy of {self.organization}"

    @property
    def threshold_probability(self) -> float:
        return float(self.proactive_threshold) / 100


class PropensityModelKind(models.TextChoices):
    PRIOR = "prior", "Prior weights (not learned yet)"
    TRAINED = "trained", "Trained on the organization's outcomes"


class PropensityModel(models.Model):
    """One version of an organization's score: a calibrated logistic regression, stored as what the nightly SQL
    needs (per feature: missing-value fill, standardisation mean and scale, weight; and the intercept), plus
    how it was validated. Exactly one per organization is active."""

    Kind = PropensityModelKind
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="propensity_models")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    is_active = models.BooleanField(default=True)
    trained_at = models.DateTimeField()
    features = models.JSONField(help_text="[{name, impute, mean, scale, weight}] in the order of scoring.features")
    intercept = models.FloatField()
    training_rows = models.PositiveIntegerField(default=0, help_text="Outcomes available when it was built.")
    training_positives = models.PositiveIntegerField(default=0)
    training_applications = models.PositiveIntegerField(default=0, help_text="Distinct opportunities.")
    holdout_rows = models.PositiveIntegerField(default=0)
    holdout_positives = models.PositiveIntegerField(default=0)
    holdout_from = models.DateField(null=True, blank=True)
    holdout_to = models.DateField(null=True, blank=True)
    holdout_auc = models.FloatField(null=True, blank=True)
    savings_auc = models.FloatField(null=True, blank=True, help_text="Ranking by lifetime savings, same holdout.")
    calibration = models.JSONField(default=list, blank=True, help_text="[{rows, predicted, observed, low, high}]")
    comparison = models.JSONField(default=dict, blank=True, help_text="Top 20 % by score vs by savings.")
    note = models.TextField(blank=True, help_text="Why prior weights are in use, or what the training saw.")

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-trained_at", "-pk"]
        get_latest_by = "trained_at"
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=Q(is_active=True), name="%(app_label)s_%(class)s_one_active"
            ),
            choices_check("kind", PropensityModelKind, "%(app_label)s_%(class)s_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({date_text(self.trained_at)})"


class ScoringRun(models.Model):
    """One nightly scoring of an organization: which model, how many opportunities, how long."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scoring_runs")
    model = models.ForeignKey(PropensityModel, on_delete=models.SET_NULL, null=True, related_name="runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    scored = models.PositiveIntegerField(default=0, help_text="Open opportunities before application.")
    changed = models.PositiveIntegerField(default=0, help_text="Rows whose score or figures changed.")
    routed_proactive = models.PositiveIntegerField(default=0)
    full = models.BooleanField(
        default=True, help_text="Every open opportunity computed; otherwise only those whose inputs changed."
    )
    inputs = models.CharField(
        max_length=64, blank=True, help_text="Digest of the model, the indexes and the cash-out LTVs it scored with."
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"Scoring of {datetime_text(self.started_at)}"
