"""Admin of the pipeline: thresholds, match runs, opportunities (stage via the service), the timeline (read-only)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from core import admin as core_admin
from core.admin_base import TenantAdmin
from core.models import Organization
from core.tenancy import profile_for
from pipeline.models import Activity, MatchRun, Opportunity, ThresholdRule
from pipeline.services.matching import match_enqueue
from pipeline.services.opportunities import StageChangeError, opportunity_change_stage, opportunity_stage_check
from pipeline.services.thresholds import threshold_rules_ensure_defaults


@admin.action(description="Run match now")
def run_match_now(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
    for organization in queryset:
        transaction.on_commit(
            lambda org=organization: match_enqueue(organization=org, trigger=MatchRun.Trigger.USER, user=request.user)
        )
    modeladmin.message_user(
        request,
        f"Match queued for {queryset.count()} organization(s); see Match runs for the results.",
        messages.SUCCESS,
    )


@admin.action(description="Add the default bands for products without rules")
def add_default_bands(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[ThresholdRule]) -> None:
    profile = profile_for(request.user)
    organizations = (
        [profile.organization] if profile else list(Organization.objects.filter(pk__in=queryset.values("organization")))
    )
    created = sum(len(threshold_rules_ensure_defaults(organization=org)) for org in organizations)
    modeladmin.message_user(request, f"{created} default band(s) added.", messages.SUCCESS)


class ThresholdRuleForm(forms.ModelForm):
    """Refuses a band that overlaps another band of the same product (the match would otherwise take the
    band with the lowest start)."""

    organization_id: int | None = None  # the manager's organization, set by the admin for new rows

    class Meta:
        model = ThresholdRule
        fields = "__all__"

    def clean(self) -> dict:
        data = super().clean()
        organization = data.get("organization")
        org_id = self.instance.organization_id or getattr(organization, "pk", None) or self.organization_id
        product, low, high = data.get("product_type"), data.get("min_balance"), data.get("max_balance")
        if org_id is None or product is None or low is None:
            return data
        overlapping = ThresholdRule.objects.filter(organization_id=org_id, product_type=product).exclude(
            pk=self.instance.pk
        )
        overlapping = overlapping.filter(Q(max_balance__isnull=True) | Q(max_balance__gt=low))
        if high is not None:
            overlapping = overlapping.filter(min_balance__lt=high)
        clash = overlapping.first()
        if clash is not None:
            raise forms.ValidationError(
                f"This band overlaps “{clash}”. Adjust one of them so the bands do not overlap."
            )
        return data


class OrganizationAdmin(core_admin.OrganizationAdmin):
    """The organization's page with the pipeline's action."""

    actions = [run_match_now]


admin.site.unregister(Organization)
admin.site.register(Organization, OrganizationAdmin)


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


class OpportunityAdminForm(forms.ModelForm):
    """Only the stage is editable, and it is checked by the stage service's own rule."""

    class Meta:
        model = Opportunity
        fields = ["stage"]

    def clean_stage(self) -> str:
        stage = self.cleaned_data["stage"]
        if self.instance.pk and stage != Opportunity.objects.get(pk=self.instance.pk).stage:
            try:
                opportunity_stage_check(opportunity=Opportunity.objects.get(pk=self.instance.pk), stage=stage)
            except StageChangeError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return stage


@admin.register(Opportunity)
class OpportunityAdmin(TenantAdmin):
    form = OpportunityAdminForm
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
    list_filter = ["stage", "qualifies", "review_flag", "product_type", "branch"]
    list_select_related = ["loan", "borrower", "loan_officer"]
    search_fields = ["loan__loan_number", "borrower__last_name"]
    raw_id_fields = ["loan", "borrower", "loan_officer", "branch", "match_run"]
    readonly_fields = [f.name for f in Opportunity._meta.fields if f.name != "stage"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # opportunities come from the match

    def save_model(self, request: HttpRequest, obj: Opportunity, form: Any, change: bool) -> None:
        """The stage moves through the service: a timeline entry, the reopen rule, outreach stopped."""
        if change and "stage" in form.changed_data:
            current = Opportunity.objects.get(pk=obj.pk)
            with transaction.atomic():
                opportunity_change_stage(
                    opportunity=current, stage=obj.stage, actor=request.user, note="Changed in admin.", source="admin"
                )


@admin.register(Activity)
class ActivityAdmin(TenantAdmin):
    """The timeline is append-only and written by the services: reports count it, so nobody adds or edits here."""

    list_display = ["occurred_at", "kind", "channel", "opportunity", "actor"]
    list_filter = ["kind", "channel"]
    list_select_related = ["opportunity", "actor"]
    raw_id_fields = ["opportunity", "borrower"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Activity | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Activity | None = None) -> bool:
        return False
