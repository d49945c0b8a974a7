from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from core.choices import Amortization, Channel, ProductType, choices_check
from core.models import Branch, LoanOfficer, Organization
from core.money import MAX_RATE
from core.tenancy import TenantQuerySet

MONEY = {"max_digits": 13, "decimal_places": 2}
RATE = {"max_digits": 6, "decimal_places": 3}


class BorrowerQuerySet(TenantQuerySet):
    def visible_to(self, user):  # type: ignore[no-untyped-def]
        """Borrowers are visible through the loans a user may see."""
        from core.tenancy import profile_for

        profile = profile_for(user)
        if profile is None:
            return self.none()
        qs = self.for_organization(profile.organization_id)
        if profile.role == LoanOfficer.Role.ORG_ADMIN:
            return qs
        loans = Loan.objects.visible_to(user).filter(Q(borrower=OuterRef("pk")) | Q(co_borrower=OuterRef("pk")))
        return qs.filter(Exists(loans))


class Borrower(models.Model):
    # No index of its own: both Meta indexes start with it (one index fewer to write per imported borrower).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="borrowers", db_index=False)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    mobile_phone = models.CharField(max_length=16, blank=True, help_text="E.164, e.g. +15551234567")
    mailing_state = models.CharField(max_length=2, blank=True)
    mailing_zip = models.CharField(max_length=10, blank=True)
    timezone = models.CharField(
        max_length=64,
        blank=True,
        help_text="From the file or the ZIP. Empty: unknown, so only the hours that are 8am–9pm in every zone of the "
        "mailing state.",
    )
    # Consent state (the ledger of how it got here is ConsentEvent).
    email_consent = models.BooleanField(default=False)
    email_consent_at = models.DateTimeField(null=True, blank=True)
    sms_consent = models.BooleanField(default=False, help_text="Prior express written consent to marketing SMS.")
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    sms_consent_source = models.CharField(max_length=200, blank=True, help_text="How the consent was given.")
    email_opted_out_at = models.DateTimeField(null=True, blank=True)
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    do_not_contact = models.BooleanField(default=False)
    # Set when a provider reports a permanent failure (hard bounce, invalid or landline number).
    email_undeliverable_reason = models.CharField(max_length=200, blank=True)
    sms_undeliverable_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BorrowerQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [
            # Portfolio search by borrower name (loan list filter) and webhook lookup by address.
            models.Index(fields=["organization", "last_name", "first_name"], name="loans_borrower_name_idx"),
            models.Index(fields=["organization", "email"], name="loans_borrower_email_idx"),
            models.Index(fields=["mobile_phone"], name="loans_borrower_mobile_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(mobile_phone="") | Q(mobile_phone__regex=r"^\+[1-9][0-9]{6,14}$"),
                name="%(app_label)s_%(class)s_mobile_e164",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def can_receive(self, channel: str) -> bool:
        """Consent and suppression state for one channel (outreach re-checks this at send time)."""
        if self.do_not_contact:
            return False
        if channel == Channel.EMAIL:
            return bool(
                self.email
                and self.email_consent
                and not self.email_opted_out_at
                and not self.email_undeliverable_reason
            )
        return bool(
            self.mobile_phone and self.sms_consent and not self.sms_opted_out_at and not self.sms_undeliverable_reason
        )


class ConsentEventAction(models.TextChoices):
    GRANTED = "granted", "Consent granted"
    REVOKED = "revoked", "Consent revoked / opted out"
    RESTORED = "restored", "Opted back in"
    DO_NOT_CONTACT = "do_not_contact", "Do not contact"
    UNDELIVERABLE = "undeliverable", "Marked undeliverable"


class ConsentEvent(models.Model):
    """Append-only ledger of consent given, withdrawn and restored, per channel."""

    Action = ConsentEventAction
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    borrower = models.ForeignKey(Borrower, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    source = models.CharField(max_length=200, help_text="How: import, web form, SMS keyword, unsubscribe link, …")
    detail = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            choices_check("action", ConsentEventAction, "%(app_label)s_%(class)s_action_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.channel or 'all'})"


class LoanProduct(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="products")
    code = models.CharField(max_length=40, help_text="The newLoanProductId of the API.")
    name = models.CharField(max_length=120)
    product_type = models.CharField(max_length=12, choices=ProductType.choices)
    term_months = models.PositiveSmallIntegerField()
    rate_type = models.CharField(max_length=5, choices=Amortization.choices, default=Amortization.FIXED)
    max_ltv_rate_term = models.DecimalField("max LTV, rate-term (%)", max_digits=5, decimal_places=2)
    max_ltv_cash_out = models.DecimalField("max LTV, cash-out (%)", max_digits=5, decimal_places=2)
    min_credit_score = models.PositiveSmallIntegerField(default=620)
    max_dti = models.DecimalField("max DTI (%)", max_digits=5, decimal_places=2, default=Decimal("45.00"))
    max_loan_amount = models.DecimalField(**MONEY, null=True, blank=True)
    closing_cost_fixed = models.DecimalField(**MONEY, default=Decimal("1500.00"))
    closing_cost_percent = models.DecimalField(**RATE, default=Decimal("1.000"), help_text="Percent of the new amount.")
    annual_mip = models.DecimalField(
        "annual MIP (%)", **RATE, default=Decimal("0.000"), help_text="FHA: annual mortgage insurance premium."
    )
    is_active = models.BooleanField(default=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["product_type", "term_months", "code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="%(app_label)s_%(class)s_unique_code"),
            choices_check("product_type", ProductType, "%(app_label)s_%(class)s_product_type_valid"),
            choices_check("rate_type", Amortization, "%(app_label)s_%(class)s_rate_type_valid"),
            models.CheckConstraint(
                condition=Q(term_months__gte=12, term_months__lte=480), name="%(app_label)s_%(class)s_term_range"
            ),
            models.CheckConstraint(
                condition=Q(max_ltv_rate_term__gt=0, max_ltv_rate_term__lte=125, max_ltv_cash_out__gt=0)
                & Q(max_ltv_cash_out__lte=125),
                name="%(app_label)s_%(class)s_ltv_range",
            ),
            models.CheckConstraint(
                condition=Q(closing_cost_fixed__gte=0, closing_cost_percent__gte=0, closing_cost_percent__lte=10),
                name="%(app_label)s_%(class)s_closing_costs_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class LoanQuerySet(TenantQuerySet):
    branch_path = "branch"
    officer_path = "loan_officer"


class LoanPurpose(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    RATE_TERM_REFI = "rate_term_refi", "Rate-term refinance"
    CASH_OUT_REFI = "cash_out_refi", "Cash-out refinance"


class LoanLien(models.TextChoices):
    FIRST = "first", "First lien"
    SECOND = "second", "Second lien"


class LoanOccupancy(models.TextChoices):
    PRIMARY = "primary", "Primary residence"
    SECOND_HOME = "second_home", "Second home"
    INVESTMENT = "investment", "Investment"


class LoanStatus(models.TextChoices):
    PENDING = "pending", "Pending (refinance in progress)"
    ACTIVE = "active", "Active"
    PAID_OFF = "paid_off", "Paid off"
    REFINANCED = "refinanced", "Refinanced"
    CLOSED = "closed", "Closed"


class LoanSource(models.TextChoices):
    CSV = "csv", "CSV import"
    MISMO = "mismo", "MISMO XML import"
    DEMO = "demo", "Demo data"
    REFINANCE = "refinance", "Created by a refinance"
    MANUAL = "manual", "Entered by hand"


class Loan(models.Model):
    Purpose = LoanPurpose
    Lien = LoanLien
    Occupancy = LoanOccupancy
    Status = LoanStatus
    Source = LoanSource
    # No index of its own: the unique (organization, loan number) constraint and the Meta indexes start with it.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="loans", db_index=False)
    loan_number = models.CharField(max_length=40)
    mers_min = models.CharField("MERS MIN", max_length=18, blank=True)
    borrower = models.ForeignKey(Borrower, on_delete=models.PROTECT, related_name="loans")
    # Rarely set: indexed only where set (Meta), so an import of a million loans writes no entry for it.
    co_borrower = models.ForeignKey(
        Borrower,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="co_borrowed_loans",
        db_index=False,
    )
    loan_officer = models.ForeignKey(
        LoanOfficer, on_delete=models.SET_NULL, null=True, blank=True, related_name="loans"
    )
    branch = models.ForeignKey(Branch, on_delete=models.SET_NULL, null=True, blank=True, related_name="loans")
    product_type = models.CharField(max_length=12, choices=ProductType.choices)
    amortization = models.CharField(max_length=5, choices=Amortization.choices, default=Amortization.FIXED)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.PURCHASE)
    lien_position = models.CharField(max_length=8, choices=Lien.choices, default=Lien.FIRST)
    occupancy = models.CharField(max_length=12, choices=Occupancy.choices, default=Occupancy.PRIMARY)
    original_amount = models.DecimalField(**MONEY)
    note_rate = models.DecimalField(**RATE, help_text="Percent, e.g. 6.875")
    current_rate = models.DecimalField(
        **RATE, null=True, blank=True, help_text="ARM: the rate in force now (MISMO CurrentInterestRatePercent)."
    )
    annual_mip = models.DecimalField(
        "annual MIP (%)", **RATE, null=True, blank=True, help_text="FHA: annual mortgage insurance premium."
    )
    term_months = models.PositiveSmallIntegerField()
    note_date = models.DateField()
    first_payment_date = models.DateField()
    maturity_date = models.DateField(null=True, blank=True)
    current_upb = models.DecimalField("current UPB", **MONEY, null=True, blank=True)
    upb_as_of = models.DateField("UPB as of", null=True, blank=True)
    property_value = models.DecimalField(**MONEY, null=True, blank=True)
    property_value_date = models.DateField(null=True, blank=True)
    property_street = models.CharField(max_length=200, blank=True)
    property_city = models.CharField(max_length=100, blank=True)
    property_state = models.CharField(max_length=2, blank=True)
    property_zip = models.CharField(max_length=10, blank=True)
    property_county_fips = models.CharField(
        "property county FIPS", max_length=5, blank=True, help_text="From the ZIP; prices the county's loan limit."
    )
    credit_score = models.PositiveSmallIntegerField(null=True, blank=True)
    dti = models.DecimalField("DTI (%)", max_digits=5, decimal_places=2, null=True, blank=True)
    days_past_due = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    refinanced_from = models.ForeignKey(  # indexed only where set (Meta)
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refinanced_by", db_index=False
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    import_digest = models.CharField(
        max_length=32,
        blank=True,
        default="",
        db_default="",  # rows written by plain SQL (benchmarks, data fixes) start with no digest too
        editable=False,
        help_text="Hash of the file row the last import took for this loan: the same row again is unchanged, "
        "skipped without parsing (changes made in the app since are kept).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LoanQuerySet.as_manager()

    class Meta:
        ordering = ["loan_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "loan_number"], name="%(app_label)s_%(class)s_unique_number"
            ),
            choices_check("product_type", ProductType, "%(app_label)s_%(class)s_product_type_valid"),
            choices_check("amortization", Amortization, "%(app_label)s_%(class)s_amortization_valid"),
            choices_check("purpose", LoanPurpose, "%(app_label)s_%(class)s_purpose_valid"),
            choices_check("lien_position", LoanLien, "%(app_label)s_%(class)s_lien_valid"),
            choices_check("occupancy", LoanOccupancy, "%(app_label)s_%(class)s_occupancy_valid"),
            choices_check("status", LoanStatus, "%(app_label)s_%(class)s_status_valid"),
            choices_check("source", LoanSource, "%(app_label)s_%(class)s_source_valid"),
            models.CheckConstraint(condition=Q(original_amount__gt=0), name="%(app_label)s_%(class)s_amount_positive"),
            models.CheckConstraint(
                condition=Q(note_rate__gte=0, note_rate__lte=MAX_RATE), name="%(app_label)s_%(class)s_note_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(current_rate__isnull=True) | Q(current_rate__gte=0, current_rate__lte=MAX_RATE),
                name="%(app_label)s_%(class)s_current_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(term_months__gte=12, term_months__lte=480), name="%(app_label)s_%(class)s_term_range"
            ),
            models.CheckConstraint(
                condition=Q(current_upb__isnull=True) | Q(current_upb__gte=0),
                name="%(app_label)s_%(class)s_upb_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(property_value__isnull=True) | Q(property_value__gt=0),
                name="%(app_label)s_%(class)s_property_value_positive",
            ),
            models.CheckConstraint(
                condition=Q(credit_score__isnull=True) | Q(credit_score__gte=300, credit_score__lte=850),
                name="%(app_label)s_%(class)s_credit_score_range",
            ),
            models.CheckConstraint(
                condition=Q(dti__isnull=True) | Q(dti__gte=0, dti__lte=100), name="%(app_label)s_%(class)s_dti_range"
            ),
            models.CheckConstraint(
                condition=Q(first_payment_date__gt=models.F("note_date")),
                name="%(app_label)s_%(class)s_first_payment_after_note",
            ),
        ]
        indexes = [
            models.Index(
                fields=["co_borrower"], condition=Q(co_borrower__isnull=False), name="loans_loan_co_borrower_idx"
            ),
            models.Index(
                fields=["refinanced_from"],
                condition=Q(refinanced_from__isnull=False),
                name="loans_loan_refinanced_from_idx",
            ),
            # Portfolio list: filters by officer / status / product inside one organization.
            models.Index(fields=["organization", "loan_officer", "status"], name="loans_loan_officer_status_idx"),
            models.Index(fields=["organization", "branch", "status"], name="loans_loan_branch_status_idx"),
            models.Index(fields=["organization", "product_type", "status"], name="loans_loan_product_idx"),
            # Daily match: the active first-lien book of one organization.
            models.Index(
                fields=["organization", "product_type"],
                condition=Q(status="active"),
                name="loans_loan_match_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.loan_number

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("loans:loan_detail", args=[self.pk])


class LoanImportQuerySet(TenantQuerySet):
    officer_path = "loan_officer"


class LoanImportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    MISMO = "mismo", "MISMO 3.x XML"


class LoanImportStatus(models.TextChoices):
    PREVIEWED = "previewed", "Previewed"
    COMMITTED = "committed", "Imported"
    REJECTED = "rejected", "Rejected"


class LoanImport(models.Model):
    """One upload of an LOS export: previewed first, then committed (or rejected) as a whole."""

    Format = LoanImportFormat

    Status = LoanImportStatus

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="imports")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    loan_officer = models.ForeignKey(LoanOfficer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=255)
    format = models.CharField(max_length=8, choices=Format.choices)
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True, help_text="Deleted after UPLOAD_RETENTION_DAYS.")
    file_size = models.PositiveBigIntegerField(default=0, help_text="Bytes stored (the per-user upload budget).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEWED)
    total_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, column, message}]")
    created_at = models.DateTimeField(auto_now_add=True)
    committed_at = models.DateTimeField(null=True, blank=True)

    objects = LoanImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The per-user upload limits (loans.services.uploads): a user's recent uploads.
            models.Index(fields=["uploaded_by", "created_at"], name="loans_import_user_recent_idx"),
            # expire_uploads: stored files older than the retention period.
            models.Index(fields=["created_at"], condition=~Q(file=""), name="loans_import_stored_idx"),
        ]
        constraints = [
            choices_check("format", LoanImportFormat, "%(app_label)s_%(class)s_format_valid"),
            choices_check("status", LoanImportStatus, "%(app_label)s_%(class)s_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"
