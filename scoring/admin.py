"""Manager console for scoring: the routing policy (edited through the same service as everywhere), the model
versions and the nightly runs (read only), and the public house price indexes (operators only)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from core.admin_base import TenantAdmin
from core.tenancy import profile_for
from scoring.models import HousePriceIndex, PropensityModel, ScoringPolicy, ScoringRun
from scoring.services.policy import policy_check, policy_save


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ScoringPolicyForm(forms.ModelForm):
    """The policy's rules (one per organization, no routing beside auto-enroll) as form errors."""

    default_organization_id: int | None = None  # the manager's organization, set by the admin for new rows

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.instance.organization_id is None:
            self.instance.organization_id = self.default_organization_id
        if self.instance.organization_id is not None:
            try:
                policy_check(policy=self.instance)
            except ValidationError as exc:
                self._update_errors(exc)


@admin.register(ScoringPolicy)
class ScoringPolicyAdmin(TenantAdmin):
    list_display = ["organization", "routing_enabled", "proactive_threshold", "min_training_rows", "updated_at"]
    list_select_related = ["organization"]
    form = ScoringPolicyForm

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        profile = profile_for(request.user)
        form.default_organization_id = profile.organization_id if profile else None
        return form

    def save_model(self, request: HttpRequest, obj: ScoringPolicy, form: Any, change: bool) -> None:
        if obj.organization_id is None:
            super().save_model(request, obj, form, change)  # sets the manager's organization, then saves
            return
        policy_save(policy=obj)


@admin.register(PropensityModel)
class PropensityModelAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["organization", "kind", "is_active", "trained_at", "training_rows", "holdout_auc", "savings_auc"]
    list_filter = ["kind", "is_active"]
    list_select_related = ["organization"]
    readonly_fields = [f.name for f in PropensityModel._meta.fields]


@admin.register(ScoringRun)
class ScoringRunAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["organization", "started_at", "scored", "changed", "routed_proactive", "duration_ms", "model"]
    list_select_related = ["organization", "model"]
    readonly_fields = [f.name for f in ScoringRun._meta.fields]


@admin.register(HousePriceIndex)
class HousePriceIndexAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Public data without an organization: operators only (the load and the FRED fetch write it)."""

    list_display = ["state", "quarter", "value", "source", "updated_at"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    list_filter = ["source", "state"]
    search_fields = ["state"]
