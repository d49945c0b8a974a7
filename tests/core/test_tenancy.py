from __future__ import annotations

import pytest
from django.urls import reverse

from loans.models import Loan
from tests.conftest import client_for
from tests.factories import BranchFactory, LoanFactory, LoanOfficerFactory, OrgAdminFactory

pytestmark = pytest.mark.django_db


def test_loan_officer_sees_only_own_loans(officer):
    mine = LoanFactory(loan_officer=officer)
    colleague = LoanOfficerFactory(branch=officer.branch, organization=officer.organization)
    LoanFactory(loan_officer=colleague)
    assert list(Loan.objects.visible_to(officer.user)) == [mine]


def test_branch_manager_sees_branch_not_other_branches(officer, manager):
    mine = LoanFactory(loan_officer=officer)
    other_branch = BranchFactory(organization=officer.organization)
    LoanFactory(loan_officer=LoanOfficerFactory(branch=other_branch, organization=officer.organization))
    assert list(Loan.objects.visible_to(manager.user)) == [mine]


def test_org_admin_sees_whole_org_but_not_other_org(officer, org_admin):
    mine = LoanFactory(loan_officer=officer)
    LoanFactory()  # another organization
    assert list(Loan.objects.visible_to(org_admin.user)) == [mine]


def test_user_without_profile_sees_nothing(django_user_model):
    LoanFactory()
    user = django_user_model.objects.create_user("nobody", password="x")
    assert not Loan.objects.visible_to(user).exists()


def test_other_tenants_loan_is_404(officer_client, officer):
    other = LoanFactory()
    mine = LoanFactory(loan_officer=officer)
    assert officer_client.get(reverse("loans:loan_detail", args=[other.pk])).status_code == 404
    assert officer_client.get(reverse("loans:loan_detail", args=[mine.pk])).status_code == 200


def test_portfolio_list_is_scoped(officer_client, officer):
    mine = LoanFactory(loan_officer=officer)
    other = LoanFactory()
    body = officer_client.get(reverse("loans:loan_list")).content.decode()
    assert mine.loan_number in body
    assert other.loan_number not in body


def test_admin_changelist_is_scoped_to_managers_org(officer, manager):
    mine = LoanFactory(loan_officer=officer)
    other = LoanFactory()
    from django.contrib.auth.models import Permission

    manager.user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=("core", "loans", "pipeline", "refinance"))
    )
    client = client_for(manager)
    body = client.get(reverse("admin:loans_loan_changelist")).content.decode()
    assert mine.loan_number in body
    assert other.loan_number not in body
    assert client.get(reverse("admin:loans_loan_change", args=[other.pk])).status_code in (302, 404)


def test_org_admin_admin_sees_only_own_org(officer):
    admin = OrgAdminFactory(organization=officer.organization)
    from django.contrib.auth.models import Permission

    admin.user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=("core", "loans", "pipeline", "refinance"))
    )
    other_loan = LoanFactory()
    body = client_for(admin).get(reverse("admin:core_organization_changelist")).content.decode()
    assert officer.organization.name in body
    assert other_loan.organization.name not in body


def test_branch_manager_cannot_grant_org_admin_or_staff_other_branches(officer, manager):
    from django.contrib.auth.models import Permission

    manager.user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=("core", "loans", "pipeline", "refinance"))
    )
    other_branch = BranchFactory(organization=officer.organization)
    body = client_for(manager).get(reverse("admin:core_loanofficer_change", args=[officer.pk])).content.decode()
    assert 'value="loan_officer"' in body and 'value="branch_manager"' in body
    assert 'value="org_admin"' not in body
    assert f'value="{other_branch.pk}"' not in body
    assert f'value="{officer.branch_id}"' in body


def test_org_admin_may_grant_org_admin(officer):
    from django.contrib.auth.models import Permission

    admin = OrgAdminFactory(organization=officer.organization)
    admin.user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=("core", "loans", "pipeline", "refinance"))
    )
    body = client_for(admin).get(reverse("admin:core_loanofficer_change", args=[officer.pk])).content.decode()
    assert 'value="org_admin"' in body
