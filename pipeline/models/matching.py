from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.choices import ProductType, choices_check
from core.formatting import date_text
from core.models import Branch, LoanOfficer, Organization
from core.money import points
from core.tenancy import TenantQuerySet
from loans.models.portfolio import MONEY, RATE, Borrower, Loan


class ThresholdRule(models.Model):
    """The minimum spread (note rate − market rate, in points) for a product and a loan-size band."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="threshold_rules")
    product_type = models.CharField(max_length=12, choices=ProductType.choices)
    min_balance = models.DecimalField(**MONEY, default=Decimal("0.00"), help_text="Band start (inclusive).")
    max_balance = models.DecimalField(**MONEY, null=True, blank=True, help_text="Band end (exclusive); empty = no end.")
    min_spread = models.DecimalField(**RATE, help_text="Percentage points, e.g. 0.625")

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["product_type", "min_balance"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "product_type", "min_balance"], name="%(app_label)s_%(class)s_unique_band"
            ),
            choices_check("product_type", ProductType, "%(app_label)s_%(class)s_product_type_valid"),
            models.CheckConstraint(
                condition=Q(min_spread__gte=0, min_spread__lte=10), name="%(app_label)s_%(class)s_spread_range"
            ),
            models.CheckConstraint(
                condition=Q(max_balance__isnull=True) | Q(max_balance__gt=models.F("min_balance")),
                name="%(app_label)s_%(class)s_band_ordered",
            ),
        ]

    def __str__(self) -> str:
        end = f"{self.max_balance:,.0f}" if self.max_balance is not None else "∞"
        return f"{self.get_product_type_display()} ${self.min_balance:,.0f}–{end}: {points(self.min_spread)}"


class MatchRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # "Run match now" claimed it; a worker has not picked it up yet
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class MatchRunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Daily schedule"
    USER = "user", "Run match now"
    COMMAND = "command", "Command line"


class MatchRun(models.Model):
    Status = MatchRunStatus
    Trigger = MatchRunTrigger
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="match_runs")
    as_of = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.COMMAND)
    triggered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    rule = models.CharField(max_length=10, choices=Organization.MatchingRule.choices)
    rates_used = models.JSONField(default=dict, blank=True, help_text="{product/term: {series, date, rate}}")
    considered = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0, help_text="Opportunities that no longer qualify.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        constraints = [
            choices_check("status", MatchRunStatus, "%(app_label)s_%(class)s_status_valid"),
            choices_check("trigger", MatchRunTrigger, "%(app_label)s_%(class)s_trigger_valid"),
            # Concurrent runs for one organization cannot both write: the second INSERT fails (a queued run counts,
            # so a second click on "Run match now" cannot queue another).
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(status__in=["queued", "running"]),
                name="%(app_label)s_%(class)s_one_running",
            ),
        ]

    def __str__(self) -> str:
        return f"Match {date_text(self.as_of)} ({self.get_status_display()})"


class OpportunityQuerySet(TenantQuerySet):
    branch_path = "branch"
    officer_path = "loan_officer"

    def open(self) -> OpportunityQuerySet:
        return self.filter(stage__in=Opportunity.OPEN_STAGES)


class OpportunityStage(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    ENGAGED = "engaged", "Engaged"
    APPOINTMENT = "appointment", "Appointment"
    APPLICATION = "application", "Application"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    ARCHIVED = "archived", "Archived"


class Opportunity(models.Model):
    """A loan where refinancing pays off for the borrower; the numbers are those of the latest match."""

    Stage = OpportunityStage

    OPEN_STAGES = ("new", "contacted", "engaged", "appointment", "application")

    # No single-column index: pipeline_opp_report_idx and pipeline_opp_board_org_idx lead with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="opportunities", db_index=False
    )
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="opportunities")
    # Denormalised from the loan by the match so the board filters and ranks without joins. None of the three
    # has a database FK: only the match's set-based statements write them, each from the loan row it joins, whose
    # own FKs (borrower PROTECT, officer and branch) guarantee the rows exist; Django's on_delete still applies.
    # PostgreSQL checks every FK of every inserted row one by one at commit, so on the first match of a
    # million-loan book each of these was ~178k lookups (and, for the borrower, 178k row locks) for nothing
    # (bench/match.py; pipeline migration 0007).
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="opportunities", db_constraint=False)
    loan_officer = models.ForeignKey(
        LoanOfficer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opportunities",
        db_constraint=False,
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.SET_NULL, null=True, blank=True, related_name="opportunities", db_constraint=False
    )
    product_type = models.CharField(max_length=12, choices=ProductType.choices)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.NEW)
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    qualifies = models.BooleanField(default=True, help_text="Still qualifies as of the latest match.")
    first_matched_at = models.DateTimeField()
    last_matched_at = models.DateTimeField()
    disqualified_at = models.DateTimeField(null=True, blank=True)
    match_run = models.ForeignKey(MatchRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The numbers of the latest match.
    market_series = models.CharField(max_length=40)
    market_rate = models.DecimalField(**RATE)
    market_rate_date = models.DateField()
    note_rate = models.DecimalField(**RATE, help_text="The rate the loan was matched on (see rate_is_current).")
    rate_is_current = models.BooleanField(
        default=False, help_text="An ARM matched on its current rate from the file, not its note rate."
    )
    spread = models.DecimalField(**RATE, help_text="Note rate − market rate, in percentage points.")
    threshold = models.DecimalField(**RATE, help_text="The minimum spread that applied (flat rule).")
    optimal_threshold = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True, help_text="x* in percentage points."
    )
    remaining_months = models.PositiveSmallIntegerField()
    current_balance = models.DecimalField(**MONEY)
    current_payment = models.DecimalField(**MONEY)
    new_payment = models.DecimalField(**MONEY)
    monthly_savings = models.DecimalField(**MONEY)
    total_interest_savings = models.DecimalField(**MONEY)
    closing_costs = models.DecimalField(**MONEY)
    break_even_months = models.PositiveIntegerField(null=True, blank=True)
    net_benefit = models.DecimalField(**MONEY)
    is_arm = models.BooleanField(default=False)
    va_irrrl_ok = models.BooleanField(null=True, blank=True, help_text="VA IRRRL net tangible benefit (VA loans).")
    fha_streamline_ok = models.BooleanField(null=True, blank=True, help_text="FHA streamline NTB (FHA loans).")
    seasoning_ok = models.BooleanField(default=True)
    # As first matched (never refreshed): reports group conversion by the spread, threshold and rule that
    # identified the opportunity, not by today's values.
    matched_spread = models.DecimalField(**RATE, null=True, blank=True)
    matched_threshold = models.DecimalField(**RATE, null=True, blank=True)
    matched_rule = models.CharField(max_length=10, choices=Organization.MatchingRule.choices, blank=True)
    # Written by the nightly scoring (scoring.services.scoring, one set-based statement) while the opportunity is
    # before application; frozen afterwards, so reports group outcomes by the score it had before them.
    score = models.FloatField(
        null=True, blank=True, help_text="Probability of reaching an application within 90 days (0–1)."
    )
    estimated_value = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Property value marked to market with the state's FHFA index."
    )
    estimated_value_quarter = models.DateField(
        null=True, blank=True, help_text="First day of the FHFA index quarter used; empty: not indexed."
    )
    current_ltv = models.DecimalField("current LTV (%)", max_digits=7, decimal_places=2, null=True, blank=True)
    equity = models.DecimalField(**MONEY, null=True, blank=True)
    cash_out_room = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Equity above the product's cash-out LTV (0 when none)."
    )
    # Outreach and attention.
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    attention_reason = models.CharField(max_length=200, blank=True, help_text="Why the loan officer should look now.")
    attention_at = models.DateTimeField(null=True, blank=True)
    # The 18-month check (automations) found the loan clearing the threshold: flagged for its loan officer.
    # db_default: the match's set-based INSERT names only the columns it computes.
    review_flag = models.BooleanField(
        "18-month review",
        default=False,
        db_default=False,
        help_text="Flagged by the loan review (the note date passed N months).",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OpportunityQuerySet.as_manager()

    class Meta:
        ordering = ["-total_interest_savings", "pk"]
        verbose_name_plural = "opportunities"
        constraints = [
            choices_check("stage", OpportunityStage, "%(app_label)s_%(class)s_stage_valid"),
            choices_check("product_type", ProductType, "%(app_label)s_%(class)s_product_type_valid"),
            # One open opportunity per loan; the match upserts on it.
            models.UniqueConstraint(
                fields=["loan"],
                condition=Q(stage__in=["new", "contacted", "engaged", "appointment", "application"]),
                name="%(app_label)s_%(class)s_one_open_per_loan",
            ),
            models.CheckConstraint(
                condition=Q(remaining_months__gte=0), name="%(app_label)s_%(class)s_remaining_non_negative"
            ),
        ]
        indexes = [
            # Board: top opportunities of one loan officer ranked by total interest savings (open rows only).
            models.Index(
                "loan_officer",
                models.F("total_interest_savings").desc(),
                "id",
                condition=Q(stage__in=["new", "contacted", "engaged", "appointment", "application"]),
                name="pipeline_opp_board_officer_idx",
            ),
            # Board for managers / org admins: the same ranking per branch and per organization.
            models.Index(
                "branch",
                models.F("total_interest_savings").desc(),
                "id",
                condition=Q(stage__in=["new", "contacted", "engaged", "appointment", "application"]),
                name="pipeline_opp_board_branch_idx",
            ),
            # Reports: opportunities first matched in a period (identified, and the conversion cohort).
            models.Index(fields=["organization", "first_matched_at"], name="pipeline_opp_report_idx"),
            models.Index(
                "organization",
                models.F("total_interest_savings").desc(),
                "id",
                condition=Q(stage__in=["new", "contacted", "engaged", "appointment", "application"]),
                name="pipeline_opp_board_org_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Opportunity {self.loan_id} ({self.get_stage_display()})"

    @property
    def is_open(self) -> bool:
        return self.stage in self.OPEN_STAGES
