"""Onboarding: everything a new organization needs before its first match, created idempotently.

``python manage.py setup_organization SLUG --name ... --admin-email ...`` calls ``organization_setup``; the demo
calls it too, so a real lender and the demo lender start the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction

from automations.services.templates import status_templates_ensure
from core.models import LoanOfficer, Organization
from outreach.services import sequence_ensure_default
from pipeline.services.thresholds import threshold_rules_ensure_defaults
from rates.services import rate_series_ensure_defaults, series_mappings_ensure_defaults

MANAGER_GROUP = "Branch managers"

# app label: {model: actions} for the "Branch managers" group (the admin console a manager needs). Organization
# settings are view-only (TenantAdmin lets an org admin change them), the timeline is read-only, consent changes
# go through the borrower's opt-in/opt-out actions.
MANAGER_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "core": {
        "organization": ("change", "view"),
        "branch": ("view",),
        "loanofficer": ("add", "change", "view"),
        "apitoken": ("add", "change", "view"),
    },
    "loans": {
        "borrower": ("add", "change", "view"),
        "consentevent": ("view",),
        "loan": ("add", "change", "view"),
        "loanproduct": ("add", "change", "view"),
        "loanimport": ("view",),
    },
    "pipeline": {
        "thresholdrule": ("add", "change", "view"),
        "matchrun": ("view",),
        "opportunity": ("change", "view"),
        "activity": ("view",),
    },
    "refinance": {
        "refinancetransaction": ("change", "view"),
    },
    "rates": {
        "rateseries": ("add", "change", "view"),
        "rateobservation": ("add", "change", "view"),
        "seriesmapping": ("add", "change", "view"),
        "ratefetch": ("view",),
        "raterevision": ("view",),
    },
    "outreach": {
        "sequence": ("add", "change", "view"),
        "sequencestep": ("add", "change", "view"),
        "enrollment": ("change", "view"),
        "message": ("view",),
        "webhookevent": ("view",),
        "localsms": ("view",),
        "bookingrequest": ("change", "view"),
    },
    "campaigns": {
        "campaign": ("view",),
    },
    "reports": {
        "weeklyreportsend": ("view",),
    },
    # LOS connections: the admin lets only org admins add, change and sync them; managers read and test.
    "los": {
        "losconnection": ("add", "change", "view"),
        "lossync": ("view",),
        "processedfile": ("view",),
        "application": ("view",),
    },
    # CRM webhooks: the admin shows them to org admins only (the group holds the permissions for both roles).
    "webhooks": {
        "webhookendpoint": ("add", "change", "delete", "view"),
        "webhookdelivery": ("view",),
    },
    "scoring": {
        "scoringpolicy": ("add", "change", "view"),
        "propensitymodel": ("view",),
        "scoringrun": ("view",),
    },
    # Status messages are the managers' to write; the review ledger and officer notifications are read-only.
    "automations": {
        "statustemplate": ("add", "change", "view"),
        "loanreview": ("view",),
        "officernotification": ("view",),
    },
}


@transaction.atomic
def organization_ensure_defaults(*, organization: Organization) -> None:
    """Public rate series, product → series mappings, threshold bands, the default outreach sequence and the
    default refinance status messages.

    Each step only adds what is missing, so running it again (or after a manager's edits) changes nothing.
    """
    rate_series_ensure_defaults()
    series_mappings_ensure_defaults(organization=organization)
    threshold_rules_ensure_defaults(organization=organization)
    sequence_ensure_default(organization=organization)
    status_templates_ensure(organization=organization)


def manager_group_ensure() -> tuple[Group, str]:
    """The "Branch managers" group with exactly MANAGER_PERMISSIONS; returns (group, created/updated/unchanged)."""
    group, created = Group.objects.get_or_create(name=MANAGER_GROUP)
    wanted: list[Permission] = []
    for app_label, models_actions in MANAGER_PERMISSIONS.items():
        codenames = [f"{action}_{model}" for model, actions in models_actions.items() for action in actions]
        found = list(Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
        missing = set(codenames) - {p.codename for p in found}
        if missing:
            raise LookupError(f"Permissions missing (run migrate first): {app_label}: {sorted(missing)}")
        wanted.extend(found)
    current = set(group.permissions.values_list("pk", flat=True))
    if current == {p.pk for p in wanted}:
        return group, "created" if created else "unchanged"
    group.permissions.set(wanted)
    return group, "created" if created else "updated"


@dataclass(frozen=True)
class SetupResult:
    organization: Organization
    organization_outcome: str
    admin: LoanOfficer | None
    admin_outcome: str


class SetupError(ValueError):
    pass


@transaction.atomic
def organization_setup(
    *, slug: str, name: str, admin_email: str = "", timezone: str = "", postal_address: str = ""
) -> SetupResult:
    """Create (or complete) an organization: its defaults, the manager group and, with ``admin_email``, its org
    admin (a staff user with an unusable password: they set it through "forgot password" or an operator)."""
    organization = Organization.objects.filter(slug=slug).first()
    outcome = "unchanged"
    if organization is None:
        organization = Organization(slug=slug, name=name, postal_address=postal_address)
        if timezone:
            organization.timezone = timezone
        try:
            organization.full_clean()
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
            raise SetupError(problems) from exc
        organization.save()
        outcome = "created"
    organization_ensure_defaults(organization=organization)
    group, _ = manager_group_ensure()
    admin, admin_outcome = None, "skipped"
    if admin_email:
        admin, admin_outcome = _org_admin_ensure(organization=organization, email=admin_email, group=group)
    return SetupResult(organization, outcome, admin, admin_outcome)


def _org_admin_ensure(*, organization: Organization, email: str, group: Group) -> tuple[LoanOfficer, str]:
    user_model = get_user_model()
    user = user_model.objects.filter(email__iexact=email).first()
    outcome = "unchanged"
    if user is None:
        user = user_model(username=email.lower(), email=email, is_staff=True, is_active=True)
        user.set_unusable_password()
        user.save()
        outcome = "created"
    existing = LoanOfficer.objects.filter(user=user).first()
    if existing is not None and existing.organization_id != organization.pk:
        raise SetupError(f"{email} already works for another organization.")
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(group)
    if existing is None:
        existing = LoanOfficer.objects.create(
            user=user,
            organization=organization,
            role=LoanOfficer.Role.ORG_ADMIN,
            display_name=user.get_full_name() or email,
            email=email,
        )
        outcome = "created"
    return existing, outcome
