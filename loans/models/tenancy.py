from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from loans.choices import choices_check
from loans.tenancy import TenantQuerySet


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
    timezone = models.CharField(max_length=64, default="America/New_York")
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
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            choices_check("matching_rule", OrganizationMatchingRule, "%(app_label)s_%(class)s_matching_rule_valid"),
            models.CheckConstraint(
                condition=models.Q(revenue_per_loan__gte=0), name="%(app_label)s_%(class)s_revenue_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


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
