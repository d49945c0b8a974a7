from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from core.models import LoanOfficer, Organization
from loans.models import Borrower, ConsentEvent, Loan, LoanProduct
from refiapp.demo import DEMO_PASSWORD
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def csv_file(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "export.csv"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


GOOD = "Loan Number,Borrower Name,Note Date,Loan Amount,Note Rate,Term\nC-1,Bob Ray,2023-01-05,300000,6.5,360\n"
BAD = GOOD + "C-2,Sue Kim,2023-01-05,300000,99,360\n"


def test_import_loans_success_prints_summary(media_root, csv_file):
    OrganizationFactory(slug="acme")
    out = StringIO()
    call_command("import_loans", csv_file(GOOD), "--org", "acme", stdout=out)
    assert "rows 1  created 1  updated 0  unchanged 0  rejected 0" in out.getvalue()
    out = StringIO()
    call_command("import_loans", csv_file(GOOD), "--org", "acme", stdout=out)
    assert "unchanged 1" in out.getvalue()


def test_import_loans_bad_row_writes_nothing_and_fails(media_root, csv_file):
    OrganizationFactory(slug="acme")
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_loans", csv_file(BAD), "--org", "acme", stdout=out)
    assert raised.value.returncode == 1
    assert "line 3, Note Rate: rate out of range" in out.getvalue()
    assert not Loan.objects.exists()


def test_import_loans_allow_partial_writes_good_rows_and_still_fails(media_root, csv_file):
    OrganizationFactory(slug="acme")
    with pytest.raises(CommandError, match="1 rows were rejected"):
        call_command("import_loans", csv_file(BAD), "--org", "acme", "--allow-partial", stdout=StringIO())
    assert list(Loan.objects.values_list("loan_number", flat=True)) == ["C-1"]


def test_import_loans_unknown_org(csv_file):
    with pytest.raises(CommandError, match="No organization"):
        call_command("import_loans", csv_file(GOOD), "--org", "nope")


def snapshot() -> dict:
    return {
        "loans": sorted(Loan.objects.values_list("loan_number", "updated_at", "note_rate")),
        "borrowers": sorted(Borrower.objects.values_list("pk", "updated_at")),
        "events": ConsentEvent.objects.count(),
        "staff": sorted(LoanOfficer.objects.values_list("pk", "role", "branch_id")),
        "products": sorted(LoanProduct.objects.values_list("code", "max_ltv_rate_term", "min_credit_score")),
    }


def test_seed_demo_is_idempotent_and_realistic(django_user_model):
    call_command("seed_demo", "--loans", "40", stdout=StringIO())
    first = snapshot()
    hashes = sorted(django_user_model.objects.values_list("username", "password"))
    out = StringIO()
    call_command("seed_demo", "--loans", "40", stdout=out)
    assert "loans: 0 created, 0 updated, 40 unchanged" in out.getvalue()
    assert snapshot() == first
    assert sorted(django_user_model.objects.values_list("username", "password")) == hashes

    organization = Organization.objects.get(slug="demo")
    assert organization.timezone == "America/Chicago" and organization.nmls_id
    roles = sorted(LoanOfficer.objects.filter(organization=organization).values_list("role", flat=True))
    assert roles == ["branch_manager", "loan_officer", "loan_officer", "loan_officer", "org_admin"]
    managers = django_user_model.objects.filter(loan_officer__role__in=["branch_manager", "org_admin"])
    group = Group.objects.get(name="Branch managers")
    assert all(user.is_staff and group in user.groups.all() for user in managers)
    assert group.permissions.filter(codename="change_loan").exists()
    assert group.permissions.filter(codename="add_sequence").exists()
    assert set(LoanProduct.objects.values_list("code", flat=True)) == {
        "CONF30", "CONF15", "JUMBO30", "FHA30", "VA30", "USDA30"
    }  # fmt: skip
    # The book is 40 loans (the demo's history may have added the new loans of its refinances, source refinance).
    assert Loan.objects.filter(organization=organization, source=Loan.Source.DEMO).count() == 40
    assert django_user_model.objects.get(username="olivia.bennett").check_password(DEMO_PASSWORD)
    # more loans later: the first 40 stay as they are
    call_command("seed_demo", "--loans", "45", stdout=StringIO())
    book = Loan.objects.filter(source=Loan.Source.DEMO).values_list("loan_number", "updated_at", "note_rate")
    assert sorted(book)[:40] == [row for row in first["loans"] if "-R" not in row[0]]


def test_demo_note_rates_follow_the_shipped_rate_history():
    from decimal import Decimal

    from refiapp.demo import pricing_history

    call_command("seed_demo", "--loans", "30", stdout=StringIO())
    for loan in Loan.objects.filter(source=Loan.Source.DEMO):  # not the new loans of the history's refinances
        series, history = pricing_history(loan.product_type, loan.term_months)
        market = history.on(loan.note_date)
        assert Decimal("-0.1875") <= loan.note_rate - market <= Decimal("0.4375"), (series, loan.note_date)
        assert loan.note_rate % Decimal("0.125") == 0
    assert Loan.objects.filter(note_rate__gte=Decimal("6.875")).exists()  # 2023-24 loans: in the money today
    assert Loan.objects.filter(note_rate__lte=Decimal("3.500")).exists()  # 2020-21 loans: out of the money


def test_demo_logins_requires_seed_then_prints():
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("demo_logins")
    call_command("seed_demo", "--loans", "1", stdout=StringIO())
    out = StringIO()
    call_command("demo_logins", stdout=out)
    assert "daniel.kim" in out.getvalue() and "Branch manager" in out.getvalue() and DEMO_PASSWORD in out.getvalue()


def test_check_deploy_is_clean_with_production_settings():
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="refiapp.settings",
        DEBUG="0",
        SECRET_KEY="prod-like-" + "k3y" * 20,
        FIELD_ENCRYPTION_KEY="cHJvZC1saWtlLWZpZWxkLWtleS0zMi1ieXRlcy1vayE=",
        ALLOWED_HOSTS="refi.example.com",
        ANYMAIL_WEBHOOK_SECRET="user:password",
    )
    completed = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "System check identified no issues" in completed.stdout
