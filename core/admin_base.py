"""Tenant scoping for Django admin: a manager sees and edits only rows of their own organization."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse

from core.tenancy import TenantQuerySet, profile_for


def https_formfield(field: models.Field, **kwargs: Any) -> Any:
    """A ModelForm ``formfield_callback``: URL fields assume https when the scheme is left out (LOS and webhook
    endpoints are https-only)."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


def scoped(qs: models.QuerySet, request: HttpRequest) -> models.QuerySet:
    """Operators (superusers) see everything; everyone else sees what their profile allows."""
    if request.user.is_superuser:
        return qs
    if isinstance(qs, TenantQuerySet):
        return qs.visible_to(request.user)
    return qs.none()


def scope_foreign_key(db_field: Any, request: HttpRequest, kwargs: dict[str, Any]) -> None:
    """Limit a foreign key's choices (and what the field accepts) to what a non-superuser may see.

    Users (e.g. an activity's actor) are not a tenant model: they are offered when their staff profile is
    visible, or when they have no profile at all (a new login a manager is about to attach to a profile).
    A queryset the admin already chose is kept.
    """
    related = db_field.related_model
    if request.user.is_superuser or related is None or "queryset" in kwargs:
        return
    base = related._default_manager.all()
    if isinstance(base, TenantQuerySet):
        kwargs["queryset"] = base.visible_to(request.user)
    elif related is get_user_model():
        from core.models import LoanOfficer

        visible = LoanOfficer.objects.visible_to(request.user).values("user_id")
        kwargs["queryset"] = base.filter(Q(pk__in=visible) | Q(loan_officer__isnull=True, is_superuser=False))


def view_on_site(request: HttpRequest, content_type_id: str, object_id: str) -> HttpResponse:
    """Admin's "View on site" redirect, only for rows the user's admin lists: Django's own view redirects for
    any row, which tells a manager that another organization's id exists (and where)."""
    if not request.user.is_superuser:
        try:
            model = ContentType.objects.get_for_id(int(content_type_id)).model_class()
            model_admin = admin.site._registry.get(model) if model is not None else None
            visible = model_admin is not None and model_admin.get_queryset(request).filter(pk=object_id).exists()
        except (ContentType.DoesNotExist, ValueError, ValidationError):
            visible = False
        if not visible:
            raise Http404("No such object.")
    return shortcut(request, content_type_id, object_id)


class TenantAdmin(admin.ModelAdmin):
    """Scopes the changelist, every foreign-key choice and new rows to the manager's organization.

    ``tenant_parent`` names the relation through which a model without its own organization (e.g. a
    sequence step) is scoped: its rows are visible when the parent is.
    """

    tenant_parent: str | None = None
    # A URL typed without a scheme (a loan officer's scheduling link) is https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

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
        scope_foreign_key(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> Any:
        """A filter on a relation lists every row of the related model (all organizations' branches, products…):
        for non-superusers it lists only the values that occur in their own rows."""
        list_filter = super().get_list_filter(request)
        if request.user.is_superuser:
            return list_filter
        scoped_filters: list[Any] = []
        for entry in list_filter:
            if isinstance(entry, str) and get_fields_from_path(self.model, entry)[-1].is_relation:
                entry = (entry, admin.RelatedOnlyFieldListFilter)
            scoped_filters.append(entry)
        return scoped_filters

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
        scope_foreign_key(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
