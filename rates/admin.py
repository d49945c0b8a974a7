"""Rates in admin: public FRED series are read-only for managers; they add their own manual or rate-sheet
series and observations, and map their products to series."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Max, QuerySet
from django.http import HttpRequest

from core.admin_base import TenantAdmin, TenantInline
from core.tenancy import profile_for
from rates import services
from rates.models import RateFetch, RateObservation, RateRevision, RateSeries, SeriesMapping


def _org_id(request: HttpRequest) -> int | None:
    """The organization a non-superuser works in (None for operators)."""
    if request.user.is_superuser:
        return None
    profile = profile_for(request.user)
    return profile.organization_id if profile else None


def _own(request: HttpRequest, obj: Any) -> bool:
    """Whether the user may change this row: operators always, managers only their organization's rows."""
    if request.user.is_superuser or obj is None:
        return True
    organization_id = getattr(obj, "organization_id", None)
    if organization_id is None and hasattr(obj, "series"):
        organization_id = obj.series.organization_id
    return organization_id is not None and organization_id == _org_id(request)


class TenantConstraintForm(forms.ModelForm):
    """Puts the manager's organization on a new row before validation, so the per-organization unique
    constraints are checked by the form (a clear error) instead of failing in the database."""

    tenant_organization_id: int | None = None
    constraint_messages: dict[str, str] = {
        "rates_rateseries_unique_org_code": "Your organization already has a series with this code.",
    }

    def _post_clean(self) -> None:
        super()._post_clean()
        if not self.tenant_organization_id or self.instance.organization_id:
            return
        self.instance.organization_id = self.tenant_organization_id
        for constraint in self.instance._meta.constraints:
            try:
                constraint.validate(type(self.instance), self.instance)
            except ValidationError as exc:
                message = self.constraint_messages.get(constraint.name)
                self._update_errors(ValidationError(message) if message else exc)


class TenantConstraintAdmin(TenantAdmin):
    form = TenantConstraintForm

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.tenant_organization_id = _org_id(request)
        return form


@admin.register(RateSeries)
class RateSeriesAdmin(TenantConstraintAdmin):
    list_display = ["code", "title", "source", "owner", "product_type", "term_months", "fetch_enabled", "latest"]
    list_filter = ["source", "fetch_enabled", "product_type"]
    search_fields = ["code", "title"]
    actions = ["fetch_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super().get_queryset(request).select_related("organization").annotate(latest_date=Max("observations__date"))
        )

    @admin.display(description="Owner", ordering="organization__name")
    def owner(self, obj: RateSeries) -> str:
        return obj.organization.name if obj.organization_id else "Public (FRED)"

    @admin.display(description="Latest observation", ordering="latest_date")
    def latest(self, obj: RateSeries) -> Any:
        return obj.latest_date

    def get_readonly_fields(self, request: HttpRequest, obj: RateSeries | None = None) -> list[str]:
        return [] if request.user.is_superuser else ["fetch_enabled"]

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "source" and not request.user.is_superuser:
            kwargs["choices"] = [
                (value, label) for value, label in RateSeries.Source.choices if value != RateSeries.Source.FRED
            ]
            kwargs.setdefault("initial", RateSeries.Source.RATE_SHEET)
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: RateSeries | None = None) -> bool:
        return _own(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: RateSeries | None = None) -> bool:
        return _own(request, obj) and super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("fetch_now", None)
        return actions

    @admin.action(description="Fetch the selected public series from FRED now")
    def fetch_now(self, request: HttpRequest, queryset: QuerySet[RateSeries]) -> None:
        codes = list(
            queryset.filter(organization__isnull=True, source=RateSeries.Source.FRED).values_list("code", flat=True)
        )
        if not services.fred_configured():
            self.message_user(request, "FRED_API_KEY is not set: nothing fetched.", messages.WARNING)
            return
        for fetch in services.fetch_all_rates(codes=codes):
            if fetch.status == RateFetch.Status.SUCCEEDED:
                self.message_user(request, f"{fetch.series.code}: {fetch.created} new, {fetch.revised} revised.")
            else:
                self.message_user(request, f"{fetch.series.code}: {fetch.error}", messages.ERROR)


class RateRevisionInline(TenantInline):
    model = RateRevision
    extra = 0
    can_delete = False
    fields = readonly_fields = ["created_at", "old_rate", "new_rate", "source"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RateObservation)
class RateObservationAdmin(TenantAdmin):
    tenant_parent = "series"
    list_display = ["series", "date", "rate", "source", "entered_by", "updated_at"]
    list_filter = ["source"]
    list_select_related = ["series", "entered_by"]
    search_fields = ["series__code"]
    date_hierarchy = "date"
    fields = ["series", "date", "rate", "source", "entered_by", "created_at", "updated_at"]
    inlines = [RateRevisionInline]

    def get_readonly_fields(self, request: HttpRequest, obj: RateObservation | None = None) -> list[str]:
        readonly = ["source", "entered_by", "created_at", "updated_at"]
        return readonly + ["series", "date"] if obj else readonly

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "series" and not request.user.is_superuser and field is not None:
            # managers write only to their organization's own series (TenantAdmin would also offer public ones)
            field.queryset = RateSeries.objects.filter(organization_id=_org_id(request))
        return field

    def has_change_permission(self, request: HttpRequest, obj: RateObservation | None = None) -> bool:
        return _own(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: RateObservation | None = None) -> bool:
        return _own(request, obj) and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: RateObservation, form: Any, change: bool) -> None:
        """Through the service: one row per series and date, a RateRevision when the value changes."""
        saved, _ = services.observation_record(
            series=obj.series,
            date=obj.date,
            rate=obj.rate,
            source=RateSeries.Source.MANUAL,
            user=request.user,
            revision_source=f"admin by {request.user.get_username()}",
        )
        obj.pk, obj.source, obj.entered_by = saved.pk, saved.source, saved.entered_by
        obj._state.adding = False


@admin.register(RateRevision)
class RateRevisionAdmin(admin.ModelAdmin):
    list_display = ["observation", "old_rate", "new_rate", "source", "created_at"]
    list_select_related = ["observation__series"]
    search_fields = ["observation__series__code"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(observation__series__in=RateSeries.objects.visible_to(request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SeriesMappingForm(TenantConstraintForm):
    term_months = forms.TypedChoiceField(
        coerce=int,
        choices=[(180, "15-year (loans of 15 years or less)"), (360, "30-year (longer loans)")],
        help_text="Loans are priced by the series of their term bucket.",
    )

    class Meta:
        model = SeriesMapping
        fields = "__all__"


@admin.register(SeriesMapping)
class SeriesMappingAdmin(TenantConstraintAdmin):
    form = SeriesMappingForm
    list_display = ["product_type", "term_months", "series", "fallback_series", "organization"]
    list_filter = ["product_type"]
    list_select_related = ["series", "fallback_series", "organization"]


@admin.register(RateFetch)
class RateFetchAdmin(TenantAdmin):
    tenant_parent = "series"
    list_display = [
        "series",
        "status",
        "started_at",
        "finished_at",
        "observations_received",
        "created",
        "revised",
        "error",
    ]
    list_filter = ["status"]
    list_select_related = ["series"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
