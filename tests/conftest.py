from __future__ import annotations

import os

import pytest
from django.test import Client

from tests.factories import BranchManagerFactory, LoanOfficerFactory, OrgAdminFactory


@pytest.fixture
def officer(db):  # type: ignore[no-untyped-def]
    return LoanOfficerFactory()


@pytest.fixture
def manager(db, officer):  # type: ignore[no-untyped-def]
    """A branch manager of the officer's branch."""
    return BranchManagerFactory(branch=officer.branch, organization=officer.organization)


@pytest.fixture
def org_admin(db, officer):  # type: ignore[no-untyped-def]
    return OrgAdminFactory(organization=officer.organization)


def client_for(profile) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(profile.user)
    return client


@pytest.fixture
def officer_client(officer) -> Client:  # type: ignore[no-untyped-def]
    return client_for(officer)


@pytest.fixture
def manager_client(manager) -> Client:  # type: ignore[no-untyped-def]
    return client_for(manager)


# The production-mode browser run needs a server started by scripts/ci_production; the normal suite leaves it out.
collect_ignore = [] if os.environ.get("PRODUCTION_BASE_URL") else ["production"]
