from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from core.admin_base import TenantAdmin
from core.models import Branch, LoanOfficer, Organization
from core.tenancy import profile_for


@admin.register(Organization)
class OrganizationAdmin(TenantAdmin):
    list_display = ["name", "slug", "nmls_id", "timezone", "matching_rule", "auto_enroll", "staleness_days"]
    search_fields = ["name", "slug"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "nmls_id", "postal_address", "timezone"]}),
        (
            "Matching",
            {
                "fields": [
                    "matching_rule",
                    "staleness_days",
                    "closing_cost_fixed",
                    "closing_cost_percent",
                    "marginal_tax_rate",
                ]
            },
        ),
        ("Refinance", {"fields": ["cash_out_tolerance", "rate_lock_days"]}),
        ("Outreach and reports", {"fields": ["auto_enroll", "skip_sundays", "revenue_per_loan"]}),
        ("Automations", {"fields": ["lock_alert_days", "review_after_months"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Organization | None = None) -> list[str]:
        return [] if request.user.is_superuser else ["slug"]

    def has_change_permission(self, request: HttpRequest, obj: Organization | None = None) -> bool:
        """Organization-wide settings belong to the org admin (and the operator); a branch manager only reads."""
        if not super().has_change_permission(request, obj):
            return False
        profile = profile_for(request.user)
        return request.user.is_superuser or (profile is not None and profile.role == LoanOfficer.Role.ORG_ADMIN)

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
