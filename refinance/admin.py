"""Admin for refinances (approve / fund / cancel through the service) and API tokens (shown once, revocable)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from core.admin_base import TenantAdmin, TenantInline
from core.models import ApiToken, LoanOfficer
from core.tenancy import profile_for
from refinance.api.tokens import api_token_create, api_token_revoke
from refinance.models import RefinanceEvent, RefinanceTransaction
from refinance.services import RefinanceStatusError, refinance_approve, refinance_cancel, refinance_fund


def _is_manager(request: HttpRequest) -> bool:
    if request.user.is_superuser:
        return True
    profile = profile_for(request.user)
    return profile is not None and profile.is_manager


class RefinanceEventInline(TenantInline):
    model = RefinanceEvent
    fields = ["created_at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RefinanceTransaction)
class RefinanceTransactionAdmin(TenantAdmin):
    list_display = [
        "reference",
        "existing_loan",
        "new_loan",
        "status",
        "new_amount",
        "new_rate",
        "new_term_months",
        "closing_costs",
        "effective_date",
        "initiated_by",
        "created_at",
    ]
    list_filter = ["status", "product"]
    list_select_related = ["existing_loan", "new_loan", "initiated_by"]
    search_fields = ["reference", "existing_loan__loan_number", "new_loan__loan_number"]
    readonly_fields = [f.name for f in RefinanceTransaction._meta.fields]
    inlines = [RefinanceEventInline]
    actions = ["approve", "fund", "cancel"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # refinances are initiated from an opportunity or through the API

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # audited: cancel instead

    def _run(self, request: HttpRequest, queryset: QuerySet, service: Any, done: str) -> None:
        if not _is_manager(request):
            self.message_user(request, "Only branch managers and organization admins can do this.", messages.ERROR)
            return
        changed = 0
        for refinance in queryset:
            try:
                service(refinance=refinance, actor=request.user, note="From admin.")
            except RefinanceStatusError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} refinance(s) {done}.", messages.SUCCESS)

    @admin.action(description="Approve selected refinances (initiated → approved)", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, refinance_approve, "approved")

    @admin.action(
        description="Fund selected refinances (approved → funded: the new loan becomes active)", permissions=["change"]
    )
    def fund(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, refinance_fund, "funded")

    @admin.action(description="Cancel selected refinances (the pending new loan is closed)", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._run(request, queryset, refinance_cancel, "cancelled")


def manageable_users(request: HttpRequest) -> QuerySet:
    """Users the issuer may manage, so may issue a token for: an org admin any active staff of the organization, a
    branch manager the staff of their branch (never an org admin); the operator anyone."""
    staff = get_user_model().objects.filter(loan_officer__is_active=True, is_active=True)
    if request.user.is_superuser:
        return staff
    profile = profile_for(request.user)
    visible = LoanOfficer.objects.visible_to(request.user).filter(is_active=True)
    if profile is None or profile.role != LoanOfficer.Role.ORG_ADMIN:
        visible = visible.exclude(role=LoanOfficer.Role.ORG_ADMIN)
    return staff.filter(loan_officer__in=visible)


@admin.register(ApiToken)
class ApiTokenAdmin(TenantAdmin):
    list_display = ["name", "prefix", "user", "organization", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user", "organization"]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        if obj is None:
            return ["name", "user", "organization"] if request.user.is_superuser else ["name", "user"]
        return ["name", "prefix", "user", "organization", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        if obj is None:
            return []
        return ["prefix", "user", "organization", "created_at", "last_used_at", "revoked_at"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            kwargs["queryset"] = manageable_users(request).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: ApiToken | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            return form
        profile = profile_for(request.user)
        own_org = profile.organization_id if profile else None

        class AddTokenForm(form):  # type: ignore[misc,valid-type]
            def clean(self) -> dict[str, Any]:
                cleaned = super().clean()
                user, org = cleaned.get("user"), cleaned.get("organization")
                org_id = org.pk if org is not None else own_org
                if (
                    user is not None
                    and not LoanOfficer.objects.filter(user=user, organization_id=org_id, is_active=True).exists()
                ):
                    self.add_error("user", "This user has no active staff profile in the organization.")
                return cleaned

        return AddTokenForm

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        organization = obj.organization if obj.organization_id else profile_for(request.user).organization  # type: ignore[union-attr]
        token, raw = api_token_create(organization=organization, user=obj.user, name=obj.name)
        for attr in ("pk", "organization_id", "prefix", "token_hash", "created_at", "name"):
            setattr(obj, attr, getattr(token, attr))
        obj._state.adding, obj._state.db = False, token._state.db
        request._refiapp_raw_api_token = raw  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        raw = getattr(request, "_refiapp_raw_api_token", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(
            request,
            "admin/core/apitoken/created.html",
            {
                **self.admin_site.each_context(request),
                "title": "API token created",
                "token": obj,
                "raw_token": raw,
                "opts": self.model._meta,
                "changelist_url": reverse("admin:core_apitoken_changelist"),
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row keeps when it was used

    @admin.action(description="Revoke selected API tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token)
            count += 1
        self.message_user(request, f"{count} API token(s) revoked.", messages.SUCCESS)
