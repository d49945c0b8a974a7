"""The one mechanism that scopes every query to what a user may see.

Every tenant-owned model uses a ``TenantQuerySet`` (or a subclass) and declares, through the class
attributes below, the lookup paths to its organization, branch and loan officer. ``visible_to(user)``
then returns:

* org admins: every row of their organization;
* branch managers: rows of their branch (models without a branch path: their organization);
* loan officers: their own rows (models without an officer path: their organization's).

A user without an active staff profile sees nothing. Views use ``get_visible_or_404`` so that a row of
another tenant is indistinguishable from a row that does not exist (404, never 403).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from core.models import LoanOfficer

M = TypeVar("M", bound=models.Model)


def profile_for(user: AbstractBaseUser | AnonymousUser | None) -> LoanOfficer | None:
    """The active staff profile of a user, or None."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached = getattr(user, "_refiapp_profile", models.NOT_PROVIDED)
    if cached is not models.NOT_PROVIDED:
        return cached
    from core.models import LoanOfficer

    profile = LoanOfficer.objects.select_related("organization", "branch").filter(user=user, is_active=True).first()
    user._refiapp_profile = profile
    return profile


class TenantQuerySet(models.QuerySet):
    org_path: str = "organization"
    branch_path: str | None = None
    officer_path: str | None = None

    def for_organization(self, organization: Any) -> TenantQuerySet:
        org_id = getattr(organization, "pk", organization)
        return self.filter(**{self.org_path: org_id})

    def visible_to(self, user: Any) -> TenantQuerySet:
        from core.models import LoanOfficer

        profile = profile_for(user)
        if profile is None:
            return self.none()
        qs = self.for_organization(profile.organization_id)
        if profile.role == LoanOfficer.Role.BRANCH_MANAGER and self.branch_path:
            qs = qs.filter(**{self.branch_path: profile.branch_id})
        elif profile.role == LoanOfficer.Role.LOAN_OFFICER and self.officer_path:
            qs = qs.filter(**{self.officer_path: profile.pk})
        return qs


def get_visible_or_404(queryset: models.QuerySet[M] | type[M], user: Any, **lookup: Any) -> M:
    """Fetch one row the user may see, or 404 (also for another tenant's row)."""
    qs = queryset._default_manager.all() if isinstance(queryset, type) else queryset
    try:
        return qs.visible_to(user).get(**lookup)
    except qs.model.DoesNotExist as exc:
        raise Http404(f"No {qs.model._meta.verbose_name} found.") from exc
