"""Admin → CRM webhooks: org admins only (branch managers and loan officers do not see them).

Endpoints are created and changed through ``webhook_endpoint_save`` (the SSRF guard, the secret's format, its
encryption); the secret is write-only ("set" / "replace"). Deliveries are a read-only log with each response,
and "Replay" queues chosen ones again through ``webhook_deliveries_replay``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.admin_base import TenantAdmin, https_formfield
from core.models import LoanOfficer
from core.tenancy import profile_for
from webhooks.events import EVENT_CHOICES
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_deliveries_replay, webhook_endpoint_save
from webhooks.services.endpoints import webhook_endpoint_validate


def _org_admin(request: HttpRequest) -> bool:
    profile = profile_for(request.user)
    return request.user.is_superuser or (profile is not None and profile.role == LoanOfficer.Role.ORG_ADMIN)


class OrgAdminOnly(TenantAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _org_admin(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _org_admin(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _org_admin(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _org_admin(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _org_admin(request) and super().has_delete_permission(request, obj)


class WebhookEndpointForm(forms.ModelForm):
    secret = forms.CharField(
        label="Signing secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "whsec_ followed by base64 of 24–64 random bytes (as your CRM's Standard Webhooks verifier expects). "
            "Stored encrypted and never shown again; leave blank to keep the stored secret."
        ),
    )
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked = every event type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["organization", "url", "description", "is_active", "events"]

        formfield_callback = staticmethod(https_formfield)

    def _post_clean(self) -> None:
        super()._post_clean()
        self.instance.events = list(self.cleaned_data.get("events") or [])
        try:
            webhook_endpoint_validate(self.instance, secret=self.cleaned_data.get("secret"))
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrgAdminOnly):
    form = WebhookEndpointForm
    list_display = ["url", "description", "events_display", "is_active", "failing_since", "disabled_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["secret_status", "failing_since", "disabled_at", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["organization", "url", "description", "is_active", "events"]}),
        ("Signing secret", {"fields": ["secret", "secret_status"]}),
        ("State", {"fields": ["failing_since", "disabled_at", "created_at", "updated_at"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not request.user.is_superuser:
            fieldsets = [(t, {"fields": [f for f in o["fields"] if f != "organization"]}) for t, o in fieldsets]
        return fieldsets

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        """Through the same service as ``webhook_endpoint`` (checks, encryption, failure state, cursor)."""
        profile = profile_for(request.user)
        organization = obj.organization if obj.organization_id else profile.organization  # type: ignore[union-attr]
        stored = WebhookEndpoint.objects.get(pk=obj.pk) if change else None
        endpoint, _outcome = webhook_endpoint_save(
            organization=organization,
            url=form.cleaned_data["url"],
            secret=form.cleaned_data.get("secret") or None,
            events=list(form.cleaned_data.get("events") or []),
            is_active=form.cleaned_data["is_active"],
            description=form.cleaned_data.get("description") or "",
            endpoint=stored,
        )
        obj.pk, obj.organization = endpoint.pk, endpoint.organization

    @admin.display(description="Events")
    def events_display(self, obj: WebhookEndpoint) -> str:
        return obj.events_label()

    @admin.display(description="Secret")
    def secret_status(self, obj: WebhookEndpoint) -> str:
        return "Set (encrypted; never shown). Type a new one above to replace it." if obj.has_secret else "Not set"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrgAdminOnly):
    list_display = ["created_at", "event_type", "event_id", "endpoint", "status", "attempts", "response_status"]
    list_filter = ["status", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["event_id", "event_type"]
    actions = ["replay"]
    fields = [
        "endpoint",
        "event_type",
        "event_id",
        "occurred_at",
        "status",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "response_status",
        "response_body",
        "error",
        "payload_display",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return super().get_actions(request) if _org_admin(request) else {}

    @admin.display(description="Payload")
    def payload_display(self, obj: WebhookDelivery) -> str:
        if obj.payload is None:
            return "Built at the first attempt."
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(description="Replay (send again with the same event id)", permissions=["view"])
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        queued = webhook_deliveries_replay(deliveries=self.get_queryset(request).filter(pk__in=queryset))
        self.message_user(request, f"{queued} delivery(ies) queued again.", messages.SUCCESS)
