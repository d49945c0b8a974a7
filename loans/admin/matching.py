"""Admin pieces for matching: the 'Run match now' action and the threshold form (registered in portfolio.py)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from loans.models import MatchRun, Organization, ThresholdRule
from loans.services.matching import match_enqueue
from loans.services.thresholds import threshold_rules_ensure_defaults
from loans.tenancy import profile_for


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
