from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from automations.models import LoanReview, OfficerNotification, StatusTemplate
from core.admin_base import TenantAdmin
from core.tenancy import profile_for


class StatusTemplateForm(forms.ModelForm):
    """A manager's form has no organization field, so Django would skip the one-per-milestone constraint (it
    names the organization) and a second "Approved" email would fail in the database: the manager's organization
    is put on the row before validation and the constraint checked with it, as a form error."""

    tenant_organization_id: int | None = None  # set per request by the admin

    def _get_validation_exclusions(self) -> set[str]:
        exclude = super()._get_validation_exclusions()
        if self.instance.organization_id:
            exclude.discard("organization")
        return exclude

    def _post_clean(self) -> None:
        if not self.instance.organization_id and self.tenant_organization_id:
            self.instance.organization_id = self.tenant_organization_id
        super()._post_clean()


@admin.register(StatusTemplate)
class StatusTemplateAdmin(TenantAdmin):
    form = StatusTemplateForm
    list_display = ["milestone", "channel", "is_active", "subject", "updated_at"]
    list_filter = ["channel", "is_active"]
    search_fields = ["milestone", "subject"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        profile = profile_for(request.user)
        form.tenant_organization_id = profile.organization_id if profile else None
        return form


class ReadOnlyAdmin(TenantAdmin):
    """Written by the automations only: managers read them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LoanReview)
class LoanReviewAdmin(ReadOnlyAdmin):
    list_display = ["loan", "checked_on", "months", "note_rate", "market_rate", "spread", "cleared", "opportunity"]
    list_filter = ["cleared", "checked_on"]
    list_select_related = ["loan", "opportunity"]
    search_fields = ["loan__loan_number"]
    readonly_fields = list_display + ["market_series", "created_at"]


@admin.register(OfficerNotification)
class OfficerNotificationAdmin(ReadOnlyAdmin):
    list_display = ["subject", "loan_officer", "sent_at", "attempts", "created_at"]
    list_select_related = ["loan_officer"]
    search_fields = ["subject", "key"]
    readonly_fields = ["loan_officer", "opportunity", "key", "to_address", "subject", "body", "attempts", "sent_at",
                       "error", "created_at"]  # fmt: skip
