from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone as django_timezone

from core.choices import choices_check
from core.tenancy import TenantQuerySet


def validate_timezone(value: str) -> None:
    """An IANA zone name that this machine's tz database knows ("America/Chicago")."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"“{value}” is not a time zone name such as America/Chicago.") from exc


def zone_or_utc(name: str) -> ZoneInfo:
    """The zone of that name, or UTC for an unknown one (a bad value never stops a page or a pass)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class OrganizationQuerySet(TenantQuerySet):
    org_path = "pk"


class OrganizationMatchingRule(models.TextChoices):
    FLAT = "flat", "Flat thresholds by product and loan size"
    OPTIMAL = "optimal", "Optimal threshold (Agarwal, Driscoll & Laibson 2013)"


class Organization(models.Model):
    """The tenant: one mortgage lender. Nothing crosses organizations."""

    MatchingRule = OrganizationMatchingRule
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True, help_text="Used as X-Tenant-ID on the API.")
    nmls_id = models.CharField("NMLS id", max_length=20, blank=True)
    postal_address = models.TextField(help_text="Printed in every marketing email (CAN-SPAM).")
    timezone = models.CharField(max_length=64, default="America/New_York", validators=[validate_timezone])
    staleness_days = models.PositiveSmallIntegerField(
        default=7, help_text="Rates older than this many days block new outreach."
    )
    matching_rule = models.CharField(max_length=10, choices=MatchingRule.choices, default=MatchingRule.FLAT)
    auto_enroll = models.BooleanField(default=False, help_text="Enroll new opportunities in the default sequence.")
    revenue_per_loan = models.DecimalField(
        max_digits=13,
        decimal_places=2,
        default=Decimal("4000.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Estimated origination revenue per closed refinance, for reports.",
    )
    closing_cost_fixed = models.DecimalField(max_digits=13, decimal_places=2, default=Decimal("1500.00"))
    closing_cost_percent = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("1.000"))
    marginal_tax_rate = models.DecimalField(
        "borrowers' marginal tax rate (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="τ of the optimal threshold x*: points are deducted over the new loan's life (0: no deduction).",
    )
    cash_out_tolerance = models.DecimalField(
        max_digits=13,
        decimal_places=2,
        default=Decimal("2000.00"),
        help_text="A rate-term refinance may return at most this much above payoff and costs; more is cash-out.",
    )
    rate_lock_days = models.PositiveSmallIntegerField(
        "rate-lock horizon (days)", default=90, help_text="A refinance's effective date is at most this far ahead."
    )
    skip_sundays = models.BooleanField(default=False, help_text="No outreach on Sundays (borrower's local day).")
    lock_alert_days = models.PositiveSmallIntegerField(
        "rate-lock alert (days before expiry)",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="The borrower and the loan officer are alerted this many days before a rate lock expires.",
    )
    review_after_months = models.PositiveSmallIntegerField(
        "loan review after (months)",
        default=18,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text="A loan is checked once against today's rate when its note date is this many months old.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            choices_check("matching_rule", OrganizationMatchingRule, "%(app_label)s_%(class)s_matching_rule_valid"),
            models.CheckConstraint(
                condition=models.Q(revenue_per_loan__gte=0), name="%(app_label)s_%(class)s_revenue_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(marginal_tax_rate__gte=0, marginal_tax_rate__lt=100),
                name="%(app_label)s_%(class)s_tax_rate_range",
            ),
            models.CheckConstraint(
                condition=models.Q(cash_out_tolerance__gte=0, rate_lock_days__gte=1),
                name="%(app_label)s_%(class)s_refinance_settings_range",
            ),
            models.CheckConstraint(
                condition=models.Q(lock_alert_days__gte=1, lock_alert_days__lte=60, review_after_months__gte=1),
                name="%(app_label)s_%(class)s_automation_settings_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        """The organization's time zone: its days, quiet hours and schedules are counted in it."""
        return zone_or_utc(self.timezone)

    def today(self) -> dt.date:
        """Today's date where the organization is (rates are daily; staleness counts whole local days)."""
        return django_timezone.now().astimezone(self.zone).date()


class BranchQuerySet(TenantQuerySet):
    pass


class Branch(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="branches")
    name = models.CharField(max_length=120)
    code = models.CharField(max_length=20, blank=True)
    nmls_id = models.CharField("NMLS id", max_length=20, blank=True)

    objects = BranchQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "branches"
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="%(app_label)s_%(class)s_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class LoanOfficerQuerySet(TenantQuerySet):
    branch_path = "branch"
    officer_path = "pk"


class LoanOfficerRole(models.TextChoices):
    LOAN_OFFICER = "loan_officer", "Loan officer"
    BRANCH_MANAGER = "branch_manager", "Branch manager"
    ORG_ADMIN = "org_admin", "Organization admin"


class LoanOfficer(models.Model):
    """A user's staff profile in one organization: loan officer, branch manager or org admin."""

    Role = LoanOfficerRole

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="loan_officer")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="staff")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="staff")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.LOAN_OFFICER)
    display_name = models.CharField(max_length=120)
    nmls_id = models.CharField("NMLS id", max_length=20, blank=True)
    email = models.EmailField(help_text="Outreach is sent from this address, in this officer's name.")
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +15551234567")
    scheduling_url = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)

    objects = LoanOfficerQuerySet.as_manager()

    class Meta:
        ordering = ["display_name"]
        constraints = [
            choices_check("role", LoanOfficerRole, "%(app_label)s_%(class)s_role_valid"),
            models.CheckConstraint(
                condition=~models.Q(role="branch_manager") | models.Q(branch__isnull=False),
                name="%(app_label)s_%(class)s_manager_has_branch",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.BRANCH_MANAGER, self.Role.ORG_ADMIN)


class ApiTokenQuerySet(TenantQuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token for the command API. Only its SHA-256 is stored; the token is shown once."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
