from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.choices import choices_check
from core.models import ApiToken, Organization
from core.money import MAX_RATE
from core.tenancy import TenantQuerySet
from loans.models.portfolio import MONEY, RATE, Loan, LoanProduct
from pipeline.models.matching import Opportunity


class RefinanceTransactionQuerySet(TenantQuerySet):
    branch_path = "existing_loan__branch"
    officer_path = "existing_loan__loan_officer"


class RefinanceTransactionStatus(models.TextChoices):
    INITIATED = "initiated", "Initiated"
    APPROVED = "approved", "Approved"
    FUNDED = "funded", "Funded"
    CANCELLED = "cancelled", "Cancelled"


class RefinanceTransaction(models.Model):
    """The audited record of an initiated refinance: old loan, new loan, amounts, who and when."""

    Status = RefinanceTransactionStatus
    IN_PROGRESS = ("initiated", "approved")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="refinances")
    reference = models.CharField(max_length=32, unique=True, help_text="The transactionId of the API.")
    existing_loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="refinance_transactions")
    new_loan = models.OneToOneField(
        Loan, on_delete=models.PROTECT, null=True, blank=True, related_name="originating_refinance"
    )
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.SET_NULL, null=True, blank=True, related_name="refinances"
    )
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="+")
    existing_balance = models.DecimalField(**MONEY, help_text="Payoff of the existing loan at the effective date.")
    new_amount = models.DecimalField(**MONEY)
    new_rate = models.DecimalField(**RATE)
    new_term_months = models.PositiveSmallIntegerField()
    cash_out_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    closing_costs = models.DecimalField(**MONEY)
    effective_date = models.DateField()
    rate_lock_expiration = models.DateField(
        null=True, blank=True, help_text="When the new loan's rate lock expires (the lock alert is sent before it)."
    )
    reason = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INITIATED)
    idempotency_key = models.CharField(max_length=255, blank=True)
    initiated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RefinanceTransactionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            choices_check("status", RefinanceTransactionStatus, "%(app_label)s_%(class)s_status_valid"),
            # A loan is refinanced at most once at a time: a double submit cannot create two.
            models.UniqueConstraint(
                fields=["existing_loan"],
                condition=Q(status__in=["initiated", "approved"]),
                name="%(app_label)s_%(class)s_one_in_progress_per_loan",
            ),
            models.CheckConstraint(condition=Q(new_amount__gt=0), name="%(app_label)s_%(class)s_amount_positive"),
            models.CheckConstraint(
                condition=Q(cash_out_amount__gte=0, closing_costs__gte=0, existing_balance__gte=0),
                name="%(app_label)s_%(class)s_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(new_rate__gte=0, new_rate__lte=MAX_RATE), name="%(app_label)s_%(class)s_rate_range"
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class RefinanceEvent(models.Model):
    """Append-only audit of a refinance transaction's status changes."""

    transaction = models.ForeignKey(RefinanceTransaction, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"


class IdempotencyRecord(models.Model):
    """The first response to an Idempotency-Key, replayed for retries of the same API token.

    Keys belong to the token that sent them: a colleague's token using the same key gets its own processing,
    never the first token's response (which would show them a transaction they did not make)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="%(app_label)s_%(class)s_unique_token_key"),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(response_status__isnull=False),
                name="%(app_label)s_%(class)s_completed_has_response",
            ),
        ]

    def __str__(self) -> str:
        return self.key
