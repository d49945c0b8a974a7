"""The result of one import pass, and who is importing (the scope rules of ``loans.services.imports``)."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied

from core.models import Branch, LoanOfficer, Organization
from core.tenancy import profile_for
from loans.importers import LoanRow
from loans.models import Loan

# The loan columns an import writes: the batch path (imports.py) and the COPY path (import_copy.py) share them.
LOAN_FIELDS = [
    "mers_min",
    "original_amount",
    "note_rate",
    "term_months",
    "note_date",
    "first_payment_date",
    "maturity_date",
    "product_type",
    "amortization",
    "purpose",
    "lien_position",
    "occupancy",
    "current_upb",
    "upb_as_of",
    "property_value",
    "property_value_date",
    "property_street",
    "property_city",
    "property_state",
    "property_zip",
    "property_county_fips",
    "current_rate",
    "annual_mip",
    "credit_score",
    "dti",
    "days_past_due",
    "status",
]


@contextmanager
def gc_frozen() -> Iterator[None]:
    """The objects that exist before an import (the whole app) are left out of the garbage collector's passes while
    it runs: an import allocates millions of short-lived values, and each full pass would walk the app's objects
    again (half the parse time of a big file). Unfrozen afterwards, so nothing stays uncollectable."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class ImportResult:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, row: LoanRow) -> None:
        self.rejected += 1
        self.errors.extend(error.as_dict() for error in row.errors)


@dataclass
class _Scope:
    """Who imports, and the organization's officers and branches (small; loaded once per run)."""

    organization: Organization
    profile: LoanOfficer | None
    user: Any
    officers_by_email: dict[str, LoanOfficer]
    officers_by_nmls: dict[str, LoanOfficer]
    branches: dict[str, Branch]

    @classmethod
    def load(cls, organization: Organization, user: Any) -> _Scope:
        profile = profile_for(user) if user is not None else None
        if user is not None and (profile is None or profile.organization_id != organization.pk):
            raise PermissionDenied("Only staff of this organization may import its loans.")
        officers = list(LoanOfficer.objects.for_organization(organization).select_related("branch"))
        branches: dict[str, Branch] = {}
        for branch in Branch.objects.for_organization(organization):
            branches[branch.name.lower()] = branch
            if branch.code:
                branches.setdefault(branch.code.lower(), branch)
        return cls(
            organization=organization,
            profile=profile,
            user=user,
            officers_by_email={o.email.lower(): o for o in officers if o.email},
            officers_by_nmls={o.nmls_id: o for o in officers if o.nmls_id},
            branches=branches,
        )

    @property
    def role(self) -> str | None:
        return self.profile.role if self.profile else None

    def assign(self, row: LoanRow) -> tuple[LoanOfficer | None, Branch | None]:
        """The officer and branch a row names (or the importer's defaults); problems become row errors."""
        officer: LoanOfficer | None = None
        reference = row.values.get("loan_officer")
        if reference:
            key = reference.strip()
            officer = self.officers_by_email.get(key.lower()) if "@" in key else self.officers_by_nmls.get(key)
            if officer is None:
                kind = "email" if "@" in key else "NMLS id"
                row.error("loan_officer", f"no loan officer with {kind} '{key}' in {self.organization.name}")
        elif self.role == LoanOfficer.Role.LOAN_OFFICER:
            officer = self.profile
        if officer is not None and self.role == LoanOfficer.Role.LOAN_OFFICER and officer.pk != self.profile.pk:
            row.error("loan_officer", f"you can import only your own loans, not {officer.display_name}'s")
        if (
            officer is not None
            and self.role == LoanOfficer.Role.BRANCH_MANAGER
            and officer.branch_id != self.profile.branch_id
        ):
            row.error("loan_officer", f"{officer.display_name} is not in your branch")

        branch: Branch | None = None
        if name := row.values.get("branch"):
            branch = self.branches.get(name.strip().lower())
            if branch is None:
                row.error("branch", f"no branch named or coded '{name}' in {self.organization.name}")
            elif self.role == LoanOfficer.Role.BRANCH_MANAGER and branch.pk != self.profile.branch_id:
                row.error("branch", f"{branch.name} is not your branch")
        elif officer is not None and officer.branch_id:
            branch = officer.branch
        elif self.role == LoanOfficer.Role.BRANCH_MANAGER:
            branch = self.profile.branch
        return officer, branch

    def visible_numbers(self, numbers: Iterable[str]) -> set[str] | None:
        """Loan numbers of existing loans the importer may update (None: all of the organization)."""
        if self.user is None:
            return None
        return set(
            Loan.objects.visible_to(self.user)
            .filter(loan_number__in=list(numbers))
            .values_list("loan_number", flat=True)
        )
