from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from loans.admin.matching import ThresholdRuleForm, add_default_bands, run_match_now
from loans.admin_base import TenantAdmin
from loans.models import (
    Activity,
    Borrower,
    Branch,
    ConsentEvent,
    Loan,
    LoanImport,
    LoanOfficer,
    LoanProduct,
    MatchRun,
    Opportunity,
    Organization,
    ThresholdRule,
)
from loans.tenancy import profile_for


@admin.register(Organization)
class OrganizationAdmin(TenantAdmin):
    list_display = ["name", "slug", "nmls_id", "timezone", "matching_rule", "auto_enroll", "staleness_days"]
    search_fields = ["name", "slug"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "nmls_id", "postal_address", "timezone"]}),
        ("Matching", {"fields": ["matching_rule", "staleness_days", "closing_cost_fixed", "closing_cost_percent"]}),
        ("Outreach and reports", {"fields": ["auto_enroll", "revenue_per_loan"]}),
    ]
    actions = [run_match_now]

    def get_readonly_fields(self, request: HttpRequest, obj: Organization | None = None) -> list[str]:
        return [] if request.user.is_superuser else ["slug"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Organization | None = None) -> bool:
        return request.user.is_superuser


@admin.register(Branch)
class BranchAdmin(TenantAdmin):
    list_display = ["name", "code", "nmls_id", "organization", "staff_count"]
    search_fields = ["name", "code"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("organization").annotate(staff_count=Count("staff"))

    @admin.display(description="Staff", ordering="staff_count")
    def staff_count(self, obj: Branch) -> int:
        return obj.staff_count


@admin.register(LoanOfficer)
class LoanOfficerAdmin(TenantAdmin):
    list_display = ["display_name", "role", "branch", "email", "phone", "nmls_id", "is_active"]
    list_filter = ["role", "is_active", "branch"]
    list_select_related = ["branch", "user"]
    search_fields = ["display_name", "email", "nmls_id", "user__username"]
    raw_id_fields = ["user"]

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """A branch manager cannot make anyone an org admin (no privilege escalation through staff edits)."""
        profile = profile_for(request.user)
        if db_field.name == "role" and profile is not None and profile.role == LoanOfficer.Role.BRANCH_MANAGER:
            kwargs["choices"] = [c for c in LoanOfficer.Role.choices if c[0] != LoanOfficer.Role.ORG_ADMIN]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """A branch manager staffs only their own branch."""
        profile = profile_for(request.user)
        if db_field.name == "branch" and profile is not None and profile.role == LoanOfficer.Role.BRANCH_MANAGER:
            kwargs["queryset"] = Branch.objects.visible_to(request.user).filter(pk=profile.branch_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Borrower)
class BorrowerAdmin(TenantAdmin):
    list_display = [
        "__str__",
        "email",
        "mobile_phone",
        "mailing_state",
        "email_consent",
        "sms_consent",
        "do_not_contact",
    ]
    list_filter = ["email_consent", "sms_consent", "do_not_contact", "mailing_state"]
    search_fields = ["first_name", "last_name", "email", "mobile_phone"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(ConsentEvent)
class ConsentEventAdmin(TenantAdmin):
    list_display = ["created_at", "borrower", "channel", "action", "source"]
    list_filter = ["channel", "action"]
    list_select_related = ["borrower"]
    raw_id_fields = ["borrower"]
    search_fields = ["borrower__last_name", "borrower__email"]

    def has_change_permission(self, request: HttpRequest, obj: ConsentEvent | None = None) -> bool:
        return False  # append-only ledger

    def has_delete_permission(self, request: HttpRequest, obj: ConsentEvent | None = None) -> bool:
        return False


@admin.register(LoanProduct)
class LoanProductAdmin(TenantAdmin):
    list_display = [
        "code",
        "name",
        "product_type",
        "term_months",
        "rate_type",
        "max_ltv_rate_term",
        "max_ltv_cash_out",
        "min_credit_score",
        "max_dti",
        "is_active",
    ]
    list_filter = ["product_type", "rate_type", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Loan)
class LoanAdmin(TenantAdmin):
    list_display = [
        "loan_number",
        "borrower",
        "loan_officer",
        "branch",
        "product_type",
        "note_rate",
        "original_amount",
        "current_upb",
        "note_date",
        "status",
    ]
    list_filter = ["status", "product_type", "amortization", "purpose", "branch"]
    list_select_related = ["borrower", "loan_officer", "branch"]
    search_fields = ["loan_number", "borrower__last_name", "borrower__first_name", "mers_min"]
    raw_id_fields = ["borrower", "co_borrower", "refinanced_from"]
    readonly_fields = ["source", "created_at", "updated_at"]
    date_hierarchy = "note_date"


@admin.register(LoanImport)
class LoanImportAdmin(TenantAdmin):
    list_display = [
        "created_at",
        "filename",
        "format",
        "status",
        "total_rows",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
        "uploaded_by",
    ]
    list_filter = ["status", "format"]
    readonly_fields = [f.name for f in LoanImport._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ThresholdRule)
class ThresholdRuleAdmin(TenantAdmin):
    """The flat matching rule: minimum spread per product type and loan-size band (the organization chooses
    between these and the optimal rule on its own page)."""

    form = ThresholdRuleForm
    list_display = ["product_type", "band", "min_balance", "max_balance", "min_spread"]
    list_display_links = ["product_type", "band"]
    list_editable = ["min_spread"]
    list_filter = ["product_type"]
    ordering = ["product_type", "min_balance"]
    actions = [add_default_bands]

    @admin.display(description="Loan size")
    def band(self, obj: ThresholdRule) -> str:
        end = f"${obj.max_balance:,.0f}" if obj.max_balance is not None else "and up"
        return f"${obj.min_balance:,.0f} – {end}" if obj.max_balance is not None else f"${obj.min_balance:,.0f} {end}"

    def get_form(self, request: HttpRequest, obj: ThresholdRule | None = None, **kwargs):  # type: ignore[no-untyped-def]
        form = super().get_form(request, obj, **kwargs)
        profile = profile_for(request.user)
        form.organization_id = profile.organization_id if profile else None
        return form


@admin.register(MatchRun)
class MatchRunAdmin(TenantAdmin):
    list_display = [
        "started_at",
        "as_of",
        "status",
        "trigger",
        "rule",
        "considered",
        "matched",
        "created",
        "updated",
        "expired",
        "duration_ms",
    ]
    list_filter = ["status", "trigger"]
    readonly_fields = [f.name for f in MatchRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Opportunity)
class OpportunityAdmin(TenantAdmin):
    list_display = [
        "loan",
        "borrower",
        "loan_officer",
        "stage",
        "qualifies",
        "spread",
        "monthly_savings",
        "total_interest_savings",
        "break_even_months",
        "last_matched_at",
    ]
    list_filter = ["stage", "qualifies", "product_type", "branch"]
    list_select_related = ["loan", "borrower", "loan_officer"]
    search_fields = ["loan__loan_number", "borrower__last_name"]
    raw_id_fields = ["loan", "borrower", "loan_officer", "branch", "match_run"]
    readonly_fields = [f.name for f in Opportunity._meta.fields if f.name not in ("stage", "attention_reason")]


@admin.register(Activity)
class ActivityAdmin(TenantAdmin):
    list_display = ["occurred_at", "kind", "channel", "opportunity", "actor"]
    list_filter = ["kind", "channel"]
    list_select_related = ["opportunity", "actor"]
    raw_id_fields = ["opportunity", "borrower", "message"]
    date_hierarchy = "occurred_at"

    def has_change_permission(self, request: HttpRequest, obj: Activity | None = None) -> bool:
        return False  # the timeline is append-only
