"""Tenant scoping for Django admin: a manager sees and edits only rows of their own organization."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from loans.tenancy import TenantQuerySet, profile_for


def scoped(qs: models.QuerySet, request: HttpRequest) -> models.QuerySet:
    """Operators (superusers) see everything; everyone else sees what their profile allows."""
    if request.user.is_superuser:
        return qs
    if isinstance(qs, TenantQuerySet):
        return qs.visible_to(request.user)
    return qs.none()


class TenantAdmin(admin.ModelAdmin):
    """Scopes the changelist, every foreign-key choice and new rows to the manager's organization.

    ``tenant_parent`` names the relation through which a model without its own organization (e.g. a
    sequence step) is scoped: its rows are visible when the parent is.
    """

    tenant_parent: str | None = None

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        if self.tenant_parent:
            parent_field = self.model._meta.get_field(self.tenant_parent)
            parents = scoped(parent_field.related_model._default_manager.all(), request)
            return qs.filter(**{f"{self.tenant_parent}__in": parents})
        return scoped(qs, request)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if not request.user.is_superuser and related is not None and "queryset" not in kwargs:
            base = related._default_manager.all()
            if isinstance(base, TenantQuerySet):
                kwargs["queryset"] = base.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser and any(f.name == "organization" for f in self.model._meta.fields):
            exclude.append("organization")
        return exclude

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        profile = profile_for(request.user)
        if not change and profile is not None and hasattr(obj, "organization_id") and not obj.organization_id:
            obj.organization_id = profile.organization_id
        super().save_model(request, obj, form, change)


class TenantInline(admin.TabularInline):
    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if not request.user.is_superuser and related is not None and "queryset" not in kwargs:
            base = related._default_manager.all()
            if isinstance(base, TenantQuerySet):
                kwargs["queryset"] = base.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
