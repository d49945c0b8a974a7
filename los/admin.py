"""Admin → LOS connections: org admins add and change them (through ``los_connection_save``), test them and sync
now; branch managers see them, test them and read every sync's summary. The client secret is write-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django_q.tasks import async_task

from core.admin_base import TenantAdmin, https_formfield
from core.formatting import datetime_text
from core.models import LoanOfficer
from core.tenancy import profile_for
from los.models import Application, LosConnection, LosSync, ProcessedFile
from los.services.connections import FIELDS, los_connection_save, los_connection_test, los_connection_validate


def _org_admin(request: HttpRequest) -> bool:
    profile = profile_for(request.user)
    return request.user.is_superuser or (profile is not None and profile.role == LoanOfficer.Role.ORG_ADMIN)


class LosConnectionForm(forms.ModelForm):
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave blank to keep the stored secret.",
    )

    class Meta:
        model = LosConnection
        fields = ["organization", "name", "kind", "enabled", *FIELDS[1:]]

        formfield_callback = staticmethod(https_formfield)

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            los_connection_validate(self.instance, secret=self.cleaned_data.get("client_secret"))
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(LosConnection)
class LosConnectionAdmin(TenantAdmin):
    form = LosConnectionForm
    list_display = ["name", "kind", "schedule_display", "enabled", "last_sync", "last_success_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "folder", "instance_id"]
    actions = ["test_connections", "sync_now"]
    readonly_fields = ["secret_status", "last_success_at", "modified_watermark", "test_link", "recent_syncs"]
    fieldsets = [
        (None, {"fields": ["organization", "name", "kind", "enabled", "test_link"]}),
        ("Encompass", {"fields": ["base_url", "client_id", "client_secret", "secret_status", "instance_id"]}),
        ("Drop folder", {"fields": ["folder"]}),
        ("Schedule (the organization's local time)", {"fields": ["schedule", "run_at", "weekday"]}),
        ("Syncs", {"fields": ["last_success_at", "modified_watermark", "recent_syncs"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: LosConnection | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not request.user.is_superuser:
            fieldsets = [(t, {"fields": [f for f in o["fields"] if f != "organization"]}) for t, o in fieldsets]
        return fieldsets

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and _org_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: LosConnection | None = None) -> bool:
        return super().has_change_permission(request, obj) and _org_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: LosConnection | None = None) -> bool:
        return super().has_delete_permission(request, obj) and _org_admin(request)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("sync_now", None)
        return actions

    def save_model(self, request: HttpRequest, obj: LosConnection, form: Any, change: bool) -> None:
        """Through the same service as ``los_connection`` (validation, encryption, watermark reset)."""
        profile = profile_for(request.user)
        organization = obj.organization if obj.organization_id else profile.organization  # type: ignore[union-attr]
        stored = LosConnection.objects.get(pk=obj.pk) if change else None
        connection, _outcome = los_connection_save(
            organization=organization,
            kind=form.cleaned_data["kind"],
            name=form.cleaned_data["name"],
            client_secret=form.cleaned_data.get("client_secret") or None,
            connection=stored,
            **{field: form.cleaned_data.get(field) for field in FIELDS},
        )
        obj.pk, obj.organization = connection.pk, connection.organization

    @admin.display(description="Schedule")
    def schedule_display(self, obj: LosConnection) -> str:
        return obj.schedule_label()

    @admin.display(description="Last sync")
    def last_sync(self, obj: LosConnection) -> str:
        sync = obj.syncs.order_by("-started_at").first()
        return f"{sync.get_status_display()} {datetime_text(sync.started_at)}" if sync else "never"

    @admin.display(description="Client secret stored")
    def secret_status(self, obj: LosConnection) -> str:
        return "Yes (encrypted; never shown)" if obj.has_secret else "No"

    @admin.display(description="Test")
    def test_link(self, obj: LosConnection) -> str:
        if not obj.pk:
            return "Save the connection, then test it."
        url = reverse("admin:los_losconnection_test", args=[obj.pk])
        return format_html('<a class="button" href="{}">Test connection</a>', url)

    @admin.display(description="Recent syncs")
    def recent_syncs(self, obj: LosConnection) -> str:
        syncs = list(obj.syncs.order_by("-started_at")[:20]) if obj.pk else []
        return render_to_string("admin/los/recent_syncs.html", {"syncs": syncs})

    @admin.action(description="Test connection (token and a one-loan pipeline call, or list the folder)")
    def test_connections(self, request: HttpRequest, queryset: QuerySet) -> None:
        for connection in queryset:
            ok, message = los_connection_test(connection=connection)
            self.message_user(request, f"{connection.name}: {message}", messages.SUCCESS if ok else messages.ERROR)

    @admin.action(description="Sync now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for connection in queryset:
            async_task("los.tasks.sync_connection", connection.pk, LosSync.Trigger.ADMIN.value)
        self.message_user(request, f"Sync started for {queryset.count()} connection(s); see Recent syncs.")

    def get_urls(self) -> list[Any]:
        return [
            path("<path:object_id>/test/", self.admin_site.admin_view(self.test_view), name="los_losconnection_test"),
            *super().get_urls(),
        ]

    def test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET asks, POST tests (the only write anywhere is nothing: a token and a one-loan read)."""
        connection = self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        if connection is None or not self.has_view_permission(request, connection):
            raise Http404("No such connection.")
        if request.method == "POST":
            ok, message = los_connection_test(connection=connection)
            self.message_user(request, message, messages.SUCCESS if ok else messages.ERROR)
            return HttpResponseRedirect(reverse("admin:los_losconnection_change", args=[connection.pk]))
        return TemplateResponse(
            request,
            "admin/los/test_connection.html",
            {**self.admin_site.each_context(request), "title": f"Test {connection.name}", "connection": connection},
        )


class ReadOnlyTenantAdmin(TenantAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LosSync)
class LosSyncAdmin(ReadOnlyTenantAdmin):
    list_display = [
        "started_at",
        "connection",
        "trigger",
        "status",
        "total_rows",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
    ]
    list_filter = ["status", "trigger", "connection"]
    list_select_related = ["connection"]
    fields = ["connection", "trigger", "status", "started_at", "finished_at", "message", "summary", "loan_import"]
    readonly_fields = fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Summary")
    def summary(self, obj: LosSync) -> str:
        return render_to_string("admin/los/sync_summary.html", {"sync": obj, "errors": obj.errors[:500]})


@admin.register(ProcessedFile)
class ProcessedFileAdmin(ReadOnlyTenantAdmin):
    list_display = ["created_at", "name", "connection", "outcome", "size", "moved_to"]
    list_filter = ["outcome", "connection"]
    list_select_related = ["connection"]
    search_fields = ["name"]


@admin.register(Application)
class ApplicationAdmin(ReadOnlyTenantAdmin):
    list_display = ["loan_number", "borrower_name", "loan_officer", "milestone", "status", "lock_expiration"]
    list_filter = ["status", "milestone"]
    list_select_related = ["loan_officer"]
    search_fields = ["loan_number", "borrower_name", "loan_guid"]
