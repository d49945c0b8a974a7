"""Tenancy is absolute: a generic, data-driven check of every id-taking URL, the borrower tokens, the
command API and every admin.

The URL resolver and the admin registry are walked at test time; a new id-taking URL or a new admin that is
not in the tables below fails ``test_every_id_url_is_in_the_table`` / ``test_every_admin_is_classified``, so
no future page can skip the check. Each check builds the row in two organizations (A and B), has users of
A ask for B's row, and asserts a 404 (the row is indistinguishable from one that does not exist) and that
nothing changed: the row's own values and the number of rows of every refiapp model.

Every string of organization B carries the marker ``ORGB``: a page that shows any of it leaks.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from automations.models import LoanReview, OfficerNotification, StatusTemplate
from campaigns.models import Campaign
from core.models import LoanOfficer, Organization
from core.tenancy import TenantQuerySet
from loans.models import ConsentEvent, Loan, LoanImport
from loans.services.imports import loan_import_preview
from los.models import Application, LosConnection, LosSync, ProcessedFile
from outreach.models import BookingRequest, Enrollment
from outreach.rendering import page_token, unsubscribe_token
from pipeline.models import Opportunity
from rates.models import RateFetch, RateObservation, RateRevision, RateSeries
from refinance.api.tokens import api_token_create
from refinance.models import RefinanceTransaction
from reports.models import WeeklyReportSend
from scoring.models import ScoringPolicy, ScoringRun
from scoring.services.training import model_ensure
from tests.conftest import client_for
from tests.factories import (
    ActivityFactory,
    BorrowerFactory,
    BranchFactory,
    BranchManagerFactory,
    EnrollmentFactory,
    LoanFactory,
    LoanOfficerFactory,
    LoanProductFactory,
    MatchRunFactory,
    MessageFactory,
    OpportunityFactory,
    OrgAdminFactory,
    OrganizationFactory,
    RateObservationFactory,
    RateSeriesFactory,
    RefinanceTransactionFactory,
    SequenceFactory,
    SequenceStepFactory,
    SeriesMappingFactory,
    ThresholdRuleFactory,
    UserFactory,
)
from webhooks import secrets as webhook_secrets
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 15, 0, tzinfo=dt.UTC)
TRACKED_APPS = (
    "core",
    "loans",
    "rates",
    "pipeline",
    "outreach",
    "refinance",
    "reports",
    "los",
    "scoring",
    "campaigns",
    "webhooks",
    "automations",
)
MANAGER_APPS = (
    "core",
    "loans",
    "rates",
    "pipeline",
    "outreach",
    "refinance",
    "reports",
    "los",
    "scoring",
    "campaigns",
    "webhooks",
    "automations",
)
EXCLUDED_NAMESPACES = ("admin", "anymail")
MISSING_PK = 987654321
MARKER = b"ORGB"  # in every string of organization B


def assert_no_b(content: bytes, where: Any = "") -> None:
    """No string of organization B on a page (shows where it is when there is)."""
    at = content.find(MARKER)
    shown = content[max(0, at - 240) : at + 60].decode(errors="replace") if at >= 0 else ""
    assert at < 0, f"{where}: organization B's data on the page: …{shown}…"


@pytest.fixture(autouse=True)
def _frozen_time_and_media(settings, tmp_path) -> Iterator[None]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


# ----- two organizations -------------------------------------------------------------------------------------


@dataclass
class Tenant:
    """One organization with every role: ``officer`` owns the rows the makers build."""

    tag: str
    org: Organization = field(init=False)

    def __post_init__(self) -> None:
        tag = self.tag
        self.org = OrganizationFactory(name=f"{tag} Lending", slug=tag.lower())
        self.branch = BranchFactory(organization=self.org, name=f"{tag} Main branch", code=f"{tag}1")
        self.other_branch = BranchFactory(organization=self.org, name=f"{tag} North branch", code=f"{tag}2")
        self.officer = self._staff(LoanOfficerFactory, "officer", branch=self.branch)
        self.colleague = self._staff(LoanOfficerFactory, "colleague", branch=self.branch)
        self.manager = self._staff(BranchManagerFactory, "manager", branch=self.branch)
        self.other_manager = self._staff(BranchManagerFactory, "other-manager", branch=self.other_branch)
        self.admin = self._staff(OrgAdminFactory, "admin", branch=None)

    def _staff(self, factory: Any, role: str, *, branch: Any) -> LoanOfficer:
        return factory(
            user=UserFactory(username=f"{self.tag}-{role}"),
            organization=self.org,
            branch=branch,
            display_name=f"{self.tag} {role.title()}",
            email=f"{self.tag}.{role}@lender.example.com",
        )

    @functools.cached_property
    def product(self) -> Any:
        return LoanProductFactory(organization=self.org, name=f"{self.tag} Conforming 30-year fixed")

    @functools.cached_property
    def series(self) -> RateSeries:
        return RateSeriesFactory(
            organization=self.org,
            code=f"{self.tag}_SHEET",
            title=f"{self.tag} rate sheet",
            source=RateSeries.Source.RATE_SHEET,
            fetch_enabled=False,
        )

    @functools.cached_property
    def sequence(self) -> Any:
        sequence = SequenceFactory(organization=self.org, name=f"{self.tag} Rate drop")
        SequenceStepFactory(sequence=sequence, position=1, subject_template=f"{self.tag} subject")
        return sequence

    def loan(self) -> Loan:
        borrower = BorrowerFactory(organization=self.org, first_name="Bea", last_name=f"{self.tag}Borrower")
        return LoanFactory(
            loan_officer=self.officer,
            borrower=borrower,
            loan_number=f"{self.tag}-LN-{uuid.uuid4().hex[:6]}",
        )

    def opportunity(self) -> Opportunity:
        return OpportunityFactory(loan=self.loan())

    def enrollment(self) -> Enrollment:
        return EnrollmentFactory(opportunity=self.opportunity(), sequence=self.sequence)

    def message(self) -> Any:
        enrollment = self.enrollment()
        return MessageFactory(
            enrollment=enrollment, step=enrollment.sequence.steps.get(), to_address=f"{self.tag}.to@mail.example.com"
        )

    def refinance(self) -> RefinanceTransaction:
        return RefinanceTransactionFactory(
            existing_loan=self.loan(), product=self.product, reference=f"{self.tag}-RT-{uuid.uuid4().hex[:6]}"
        )

    def loan_import(self) -> LoanImport:
        csv = (
            "Loan #,Borrower Name,Closing Date,Note Amount,Interest Rate,Term\n"
            f"{self.tag}-IMP-1,Bea {self.tag}Imported,10/16/2023,300000,6.875%,360\n"
            f"{self.tag}-IMP-2,Bo {self.tag}Broken,2023-11-02,250000,not-a-rate,360\n"
        )
        return loan_import_preview(
            organization=self.org,
            file=SimpleUploadedFile(f"{self.tag}-export.csv", csv.encode()),
            format=None,
            user=self.officer.user,
        )

    def observation(self) -> RateObservation:
        return RateObservationFactory(series=self.series)


@pytest.fixture
def org_a() -> Tenant:
    return Tenant("ORGA")


@pytest.fixture
def org_b() -> Tenant:
    return Tenant("ORGB")


# ----- "nothing changed" -------------------------------------------------------------------------------------


def _tracked_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m._meta.app_label in TRACKED_APPS]


def snapshot(*rows: models.Model) -> tuple[dict[str, int], list[dict[str, Any] | None]]:
    """The stored values of the given rows and, per organization of these rows, the number of rows of every
    refiapp model (models without an organization: all their rows)."""
    org_ids = sorted({_organization_id(row) for row in rows})
    counts: dict[str, int] = {}
    for model in _tracked_models():
        path = _org_path(model)
        qs = model._default_manager.all()
        if path is None:
            counts[model._meta.label] = qs.count()
        for org_id in org_ids if path is not None else ():
            counts[f"{model._meta.label}@{org_id}"] = qs.filter(**{path: org_id}).count()
    values = [type(row)._default_manager.filter(pk=row.pk).values().first() for row in rows]
    return counts, values


def _organization_id(row: models.Model) -> int:
    path = _org_path(type(row))
    assert path is not None, f"{type(row).__name__} has no organization"
    return type(row)._default_manager.filter(pk=row.pk).values_list(path, flat=True).get()


# ----- the URL table -----------------------------------------------------------------------------------------


@dataclass
class Target:
    row: models.Model  # the row the URL addresses (its values must not change)
    kwargs: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)  # a valid POST: would change the row if it got through


@dataclass(frozen=True)
class UrlCase:
    name: str
    make: Callable[[Tenant], Target]
    methods: tuple[str, ...]
    label: str = ""
    owner: str = "officer"  # the role that reaches its own row (campaigns: a branch manager)

    @property
    def id(self) -> str:
        return f"{self.name}[{self.label}]" if self.label else self.name


def _opportunity(t: Tenant, **data: Any) -> Target:
    opportunity = t.opportunity()
    return Target(opportunity, {"pk": opportunity.pk}, data)


def _refinance_form(t: Tenant) -> Target:
    opportunity = t.opportunity()
    data = {
        "product": t.product.pk,
        "new_amount": "395000.00",
        "new_rate": "6.125",
        "new_term_months": "360",
        "effective_date": "2026-12-22",
        "cash_out_amount": "0",
        "reason": "Lower interest rate",
        "submission_token": uuid.uuid4().hex,
    }
    return Target(opportunity, {"pk": opportunity.pk}, data)


def _refinance(t: Tenant) -> Target:
    refinance = t.refinance()
    return Target(refinance, {"pk": refinance.pk})


def _loan(t: Tenant) -> Target:
    loan = t.loan()
    return Target(loan, {"pk": loan.pk})


def _import(t: Tenant, **data: Any) -> Target:
    loan_import = t.loan_import()
    return Target(loan_import, {"pk": loan_import.pk}, data)


def _enroll(t: Tenant) -> Target:
    opportunity = t.opportunity()
    return Target(opportunity, {"pk": opportunity.pk}, {"sequence": t.sequence.pk})


def _enrollment(action: str, status: str) -> Callable[[Tenant], Target]:
    def make(t: Tenant) -> Target:
        enrollment = t.enrollment()
        Enrollment.objects.filter(pk=enrollment.pk).update(status=status)
        return Target(enrollment, {"pk": enrollment.pk, "action": action}, {"note": "ORGX stop"})

    return make


def _campaign(t: Tenant, **data: Any) -> Target:
    campaign = Campaign.objects.create(
        organization=t.org,
        branch=t.branch,
        name=f"{t.tag} rate alert",
        filters="min_spread=0.75",
        subject_template=f"{t.tag} subject",
        body_template=f"{t.tag} body {{{{ scheduling_link }}}}",
        created_by=t.manager.user,
    )
    return Target(campaign, {"pk": campaign.pk}, data)


def _match_run(t: Tenant) -> Target:
    run = MatchRunFactory(organization=t.org)
    return Target(run, {"pk": run.pk})


GET, POST = ("GET",), ("POST",)
URL_CASES: list[UrlCase] = [
    UrlCase("pipeline:match_run_status", _match_run, GET),
    UrlCase("pipeline:opportunity_detail", _opportunity, GET),
    UrlCase(
        "pipeline:opportunity_stage",
        functools.partial(_opportunity, stage=Opportunity.Stage.CONTACTED, note="moved"),
        POST,
    ),
    UrlCase("pipeline:opportunity_note", functools.partial(_opportunity, body="A note that must not land"), POST),
    UrlCase("pipeline:opportunity_archive", _opportunity, POST),
    UrlCase("loans:loan_detail", _loan, GET),
    UrlCase("refinance:initiate", _refinance_form, ("GET", "POST")),
    UrlCase("refinance:preview", _refinance_form, GET),
    UrlCase("refinance:detail", _refinance, GET),
    UrlCase("loans:import_preview", _import, ("GET", "POST")),
    UrlCase("loans:import_commit", functools.partial(_import, allow_partial="on"), POST),
    UrlCase("loans:import_summary", _import, ("GET", "POST")),
    UrlCase("loans:import_errors_csv", _import, ("GET", "POST")),
    UrlCase("outreach:enroll", _enroll, POST),
    UrlCase("outreach:enrollment_action", _enrollment("pause", Enrollment.Status.ACTIVE), POST, "pause"),
    UrlCase("outreach:enrollment_action", _enrollment("resume", Enrollment.Status.PAUSED), POST, "resume"),
    UrlCase("outreach:enrollment_action", _enrollment("stop", Enrollment.Status.ACTIVE), POST, "stop"),
    UrlCase("campaigns:detail", _campaign, GET, owner="manager"),
    UrlCase(
        "campaigns:edit",
        functools.partial(_campaign, name="hijacked", subject_template="s", body_template="b"),
        ("GET", "POST"),
        owner="manager",
    ),
    UrlCase("campaigns:send", _campaign, POST, owner="manager"),
]

# Borrower pages: the signed token is the authorisation (no login). url name → (salt kind, methods).
TOKEN_URLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "outreach:borrower_page": ("page", ("GET", "POST")),
    "outreach:tracked_link": ("page", GET),
    "outreach:unsubscribe": ("unsubscribe", ("GET", "POST")),
}

# Project URLs of the admin (outside its namespace), checked by the admin tests below.
ADMIN_CHECKED_URLS = {"admin_view_on_site": "test_admin_shows_nothing_of_another_organization"}


def id_taking_urls() -> dict[str, list[str]]:
    """Every named URL (outside the admin and anymail) whose pattern captures an argument → its argument names."""
    found: dict[str, list[str]] = {}

    def walk(resolver: URLResolver, namespace: str) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace in EXCLUDED_NAMESPACES:
                    continue
                inner = ":".join(filter(None, [namespace, pattern.namespace or ""]))
                if pattern.pattern.regex.groups:
                    raise AssertionError(f"An include with captured arguments is not handled: {pattern}")
                walk(pattern, inner)
            elif isinstance(pattern, URLPattern) and pattern.pattern.regex.groups:
                name = ":".join(filter(None, [namespace, pattern.name or ""]))
                found[name] = sorted(pattern.pattern.regex.groupindex) or [f"<unnamed group in {pattern.pattern}>"]

    walk(get_resolver(), "")
    return found


def test_every_id_url_is_in_the_table():
    """A new URL taking an id or token must be added to URL_CASES or TOKEN_URLS (and so is checked)."""
    found = id_taking_urls()
    covered = {case.name for case in URL_CASES} | set(TOKEN_URLS) | set(ADMIN_CHECKED_URLS)
    assert sorted(set(found) - covered) == [], "id-taking URLs without a tenancy check: add them to URL_CASES"
    assert sorted(covered - set(found)) == [], "URL_CASES names URLs that no longer exist"
    assert found["pipeline:opportunity_detail"] == ["pk"]
    assert found["outreach:enrollment_action"] == ["action", "pk"]
    assert found["outreach:borrower_page"] == ["token"]


def _request(client: Client, method: str, url: str, data: dict[str, Any]) -> Any:
    return client.get(url) if method == "GET" else client.post(url, data)


@pytest.mark.parametrize("case", URL_CASES, ids=lambda c: c.id)
def test_owner_reaches_own_row_and_other_methods_are_405(case, org_a):
    """The control: the table builds real rows and names the right methods (so a 404 below means tenancy)."""
    target = case.make(org_a)
    url = reverse(case.name, kwargs=target.kwargs)
    client = client_for(getattr(org_a, case.owner))
    for method in ("GET", "POST"):
        response = _request(client, method, url, target.data)
        if method in case.methods:
            assert response.status_code in (200, 302, 400), (method, response.status_code)
        else:
            assert response.status_code == 405, method


def _assert_hidden(client: Client, case: UrlCase, target: Target) -> None:
    url = reverse(case.name, kwargs=target.kwargs)
    before = snapshot(target.row)
    for method in ("GET", "POST"):
        response = _request(client, method, url, target.data)
        expected = 404 if method in case.methods else 405
        assert response.status_code == expected, (method, response.status_code)
        assert_no_b(response.content)
    assert snapshot(target.row) == before


@pytest.mark.parametrize("role", ["officer", "manager", "admin"])
@pytest.mark.parametrize("case", URL_CASES, ids=lambda c: c.id)
def test_other_organizations_row_is_404_and_unchanged(case, role, org_a, org_b):
    target = case.make(org_b)
    _assert_hidden(client_for(getattr(org_a, role)), case, target)


def _scoped_by(row: models.Model, path_attr: str) -> bool:
    qs = type(row)._default_manager.all()
    return isinstance(qs, TenantQuerySet) and getattr(qs, path_attr) is not None


@pytest.mark.parametrize("case", URL_CASES, ids=lambda c: c.id)
def test_another_officer_of_the_same_branch_gets_404(case, org_b):
    """Rows scoped to their loan officer: a colleague in the same branch and organization is a stranger."""
    target = case.make(org_b)
    if case.owner != "officer":  # a managers' page: a loan officer sees none of its rows
        _assert_hidden(client_for(org_b.colleague), case, target)
        return
    if not _scoped_by(target.row, "officer_path"):
        assert LoanOfficer.objects.filter(pk=org_b.colleague.pk).exists()  # organization-wide row: nothing to hide
        response = client_for(org_b.colleague).get(reverse(case.name, kwargs=target.kwargs))
        assert response.status_code in (200, 302, 405)
        return
    _assert_hidden(client_for(org_b.colleague), case, target)


@pytest.mark.parametrize("case", URL_CASES, ids=lambda c: c.id)
def test_manager_of_another_branch_gets_404(case, org_b):
    target = case.make(org_b)
    if not _scoped_by(target.row, "branch_path"):
        response = client_for(org_b.other_manager).get(reverse(case.name, kwargs=target.kwargs))
        assert response.status_code in (200, 302, 405)
        return
    _assert_hidden(client_for(org_b.other_manager), case, target)


# ----- ids in POST bodies ------------------------------------------------------------------------------------


def test_enrolling_with_another_organizations_sequence_is_404(org_a, org_b):
    opportunity = org_a.opportunity()
    before = snapshot(opportunity, org_b.sequence)
    response = client_for(org_a.officer).post(
        reverse("outreach:enroll", args=[opportunity.pk]), {"sequence": org_b.sequence.pk}
    )
    assert response.status_code == 404
    assert snapshot(opportunity, org_b.sequence) == before


def test_refinancing_with_another_organizations_product_is_refused(org_a, org_b):
    target = _refinance_form(org_a)
    target.data["product"] = org_b.product.pk
    before = snapshot(target.row)
    response = client_for(org_a.officer).post(reverse("refinance:initiate", kwargs=target.kwargs), target.data)
    assert response.status_code == 200
    assert "product" in response.context["form"].errors
    assert_no_b(response.content)
    assert snapshot(target.row) == before


# ----- signed borrower tokens --------------------------------------------------------------------------------


def _tokens(t: Tenant) -> dict[str, tuple[str, str, models.Model]]:
    """(page token, unsubscribe token, the row each addresses) — valid ones, for org ``t``."""
    message = t.message()
    opportunity = message.opportunity
    return {
        "page": (page_token(opportunity_id=opportunity.pk, message_id=message.pk), opportunity),
        "unsubscribe": (unsubscribe_token(borrower_id=opportunity.borrower_id, message_id=message.pk), opportunity),
    }


def _tamper_value(token: str, new_id: int) -> str:
    """Keep the signature, change the signed id (to another organization's row)."""
    value, rest = token.split(":", 1)
    return f"{new_id}.{value.split('.', 1)[1]}:{rest}"


def _flip_signature(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize("name", sorted(TOKEN_URLS))
def test_borrower_token_urls_refuse_forged_and_tampered_tokens(name, org_a, org_b):
    kind, methods = TOKEN_URLS[name]
    tokens = _tokens(org_b)
    token, row = tokens[kind]
    other_kind = "unsubscribe" if kind == "page" else "page"
    other_row_id = org_a.opportunity().pk if kind == "page" else org_a.loan().borrower_id
    borrower = row.borrower
    booking = {"phone": "+13125550199", "preferred_windows": ["morning"], "notes": "forged"}

    client = Client()
    # The control: the genuine token works.
    assert client.get(reverse(name, args=[token])).status_code in (200, 302)

    bad = {
        "forged": "MTIzLjQ1:1tZ3xY:forged-signature-forged-signature-00",
        "garbage": "not-a-token",
        "tampered id": _tamper_value(token, other_row_id),
        "tampered signature": _flip_signature(token),
        "other salt": tokens[other_kind][0],
    }
    before = snapshot(row, borrower)
    for label, forged in bad.items():
        url = reverse(name, args=[forged])
        for method in ("GET", "POST"):
            response = client.get(url) if method == "GET" else client.post(url, booking)
            expected = 404 if method in methods else 405
            assert response.status_code == expected, (label, method, response.status_code)
            assert b"ORGB" not in response.content and b"ORGA" not in response.content
    with time_machine.travel(NOW + dt.timedelta(days=401), tick=False):
        assert client.get(reverse(name, args=[token])).status_code == 404  # expired
    assert snapshot(row, borrower) == before
    assert not BookingRequest.objects.exists()


# ----- the command API ---------------------------------------------------------------------------------------

API_URL = "/api/bpm/cmd"
COMMANDS = {
    "InitiateLoanRefinanceCommand": {
        "newLoanProductId": "CONF30",
        "newLoanAmount": 395000.00,
        "newInterestRate": 6.125,
        "newTermMonths": 360,
        "refinanceReason": "Lower interest rate",
        "effectiveDate": "2026-12-22",
        "cashOutAmount": 0,
    },
    "CalculateRefinanceAmountQuery": {"newLoanProductId": "CONF30", "effectiveDate": "2026-12-22"},
}


def _api(raw: str, tenant: str, cmd: str, loan_number: str) -> Any:
    body = {"cmd": cmd, "data": {"existingLoanId": loan_number, **COMMANDS[cmd]}}
    return Client().post(
        API_URL,
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}", "X-Tenant-ID": tenant},
    )


def _api_world(org_a: Tenant, org_b: Tenant, role: str) -> tuple[str, Loan, Loan]:
    own = org_a.loan()
    theirs = org_b.loan()
    for t in (org_a, org_b):
        LoanProductFactory(organization=t.org, code="CONF30", name=f"{t.tag} Conforming")
    _, raw = api_token_create(organization=org_a.org, user=getattr(org_a, role).user, name="LOS")
    return raw, own, theirs


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_api_tenant_header_of_another_organization_is_403(cmd, org_a, org_b):
    raw, own, theirs = _api_world(org_a, org_b, "admin")
    assert _api(raw, org_a.org.slug, cmd, own.loan_number).status_code == 200  # the control
    before = snapshot(own, theirs)
    for loan in (own, theirs):
        response = _api(raw, org_b.org.slug, cmd, loan.loan_number)
        assert response.status_code == 403
        assert response.json()["success"] is False
        assert b"ORGB-LN" not in response.content
    assert snapshot(own, theirs) == before


@pytest.mark.parametrize("role", ["officer", "manager", "admin"])
@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_api_another_organizations_loan_is_404(cmd, role, org_a, org_b):
    raw, own, theirs = _api_world(org_a, org_b, role)
    before = snapshot(own, theirs)
    response = _api(raw, org_a.org.slug, cmd, theirs.loan_number)
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Existing loan not found"}
    assert snapshot(own, theirs) == before


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_api_officer_token_cannot_reach_a_colleagues_loan(cmd, org_a):
    colleague_loan = LoanFactory(loan_officer=org_a.colleague, loan_number="ORGA-COLLEAGUE-1")
    LoanProductFactory(organization=org_a.org, code="CONF30")
    _, raw = api_token_create(organization=org_a.org, user=org_a.officer.user, name="LOS")
    before = snapshot(colleague_loan)
    response = _api(raw, org_a.org.slug, cmd, colleague_loan.loan_number)
    assert response.json() == {"success": False, "message": "Existing loan not found"}
    assert response.status_code == 404
    assert snapshot(colleague_loan) == before


# ----- admin -------------------------------------------------------------------------------------------------


def _consent_event(t: Tenant) -> ConsentEvent:
    borrower = t.loan().borrower
    return ConsentEvent.objects.create(
        organization=t.org, borrower=borrower, channel="email", action="granted", source=f"{t.tag} web form"
    )


def _rate_revision(t: Tenant) -> RateRevision:
    return RateRevision.objects.create(
        observation=t.observation(), old_rate=Decimal("6.250"), new_rate=Decimal("6.125"), source=f"{t.tag} sheet"
    )


def _rate_fetch(t: Tenant) -> RateFetch:
    return RateFetch.objects.create(
        series=t.series, status=RateFetch.Status.FAILED, started_at=NOW, finished_at=NOW, error=f"{t.tag} failed"
    )


def _booking(t: Tenant) -> BookingRequest:
    opportunity = t.opportunity()
    return BookingRequest.objects.create(
        organization=t.org,
        opportunity=opportunity,
        borrower=opportunity.borrower,
        requested_on=NOW.date(),
        phone="+13125550123",
        notes=f"{t.tag} call me",
    )


def _weekly_send(t: Tenant) -> WeeklyReportSend:
    return WeeklyReportSend.objects.create(
        organization=t.org, week_start=dt.date(2026, 11, 16), recipient=t.officer, to_email=f"{t.tag}@example.com"
    )


def _los_connection(t: Tenant) -> LosConnection:
    folder = Path(django_settings.MEDIA_ROOT) / f"{t.tag}-exports"
    folder.mkdir(parents=True, exist_ok=True)
    return LosConnection.objects.create(
        organization=t.org, kind="folder", name=f"{t.tag} drop folder", folder=str(folder)
    )


def _los_sync(t: Tenant) -> LosSync:
    connection = _los_connection(t)
    return LosSync.objects.create(
        organization=t.org,
        connection=connection,
        trigger="command",
        status="succeeded",
        started_at=NOW,
        message=f"{t.tag} synced",
        errors=[{"line": 2, "column": "Note Rate", "message": f"{t.tag} bad rate", "loan_number": f"{t.tag}-1"}],
    )


def _processed_file(t: Tenant) -> ProcessedFile:
    sync = _los_sync(t)
    return ProcessedFile.objects.create(
        organization=t.org, connection=sync.connection, sync=sync, name=f"{t.tag}-export.csv", content_hash="0" * 64,
        outcome="processed",
    )  # fmt: skip


def _application(t: Tenant) -> Application:
    return Application.objects.create(
        organization=t.org, loan_officer=t.officer, loan_guid=f"{t.tag}-guid", loan_number=f"{t.tag}-APP-1",
        borrower_name=f"Bea {t.tag}Applicant", milestone="Processing",
    )  # fmt: skip


def _webhook_endpoint(t: Tenant) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        organization=t.org, url=f"https://{t.tag.lower()}.crm.example.com/hooks", description=f"{t.tag} CRM",
        secret_encrypted=webhook_secrets.encrypt("whsec_" + "A" * 32),
    )  # fmt: skip


def _webhook_delivery(t: Tenant) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        organization=t.org, endpoint=_webhook_endpoint(t), event_id=f"msg_{t.tag}1", event_type="message.sent",
        activity_id=1, occurred_at=NOW, status="delivered", response_body=f"{t.tag} ok",
    )  # fmt: skip


def _status_template(t: Tenant) -> StatusTemplate:
    return StatusTemplate.objects.create(
        organization=t.org, milestone=f"{t.tag} Processing", subject=f"{t.tag} subject", body=f"{t.tag} body"
    )


def _loan_review(t: Tenant) -> LoanReview:
    return LoanReview.objects.create(
        organization=t.org, loan=t.loan(), checked_on=NOW.date(), months=18, note_rate=Decimal("7.000"),
        market_series=f"{t.tag}_SHEET", market_rate=Decimal("6.000"), spread=Decimal("1.000"),
    )  # fmt: skip


def _officer_notification(t: Tenant) -> OfficerNotification:
    return OfficerNotification.objects.create(
        organization=t.org, loan_officer=t.officer, key=f"lock:los:{t.tag}", to_address=t.officer.email,
        subject=f"{t.tag} lock expires", body=f"{t.tag} body",
    )  # fmt: skip


def _api_token(t: Tenant) -> Any:
    token, _ = api_token_create(organization=t.org, user=t.admin.user, name=f"{t.tag} LOS")
    return token


# model label → a maker of one row of that model in an organization (owned by its officer where applicable)
ADMIN_MAKERS: dict[str, Callable[[Tenant], models.Model]] = {
    "core.Organization": lambda t: t.org,
    "core.Branch": lambda t: t.branch,
    "core.LoanOfficer": lambda t: t.officer,
    "loans.Borrower": lambda t: t.loan().borrower,
    "loans.ConsentEvent": _consent_event,
    "loans.LoanProduct": lambda t: t.product,
    "loans.Loan": lambda t: t.loan(),
    "loans.LoanImport": lambda t: t.loan_import(),
    "pipeline.ThresholdRule": lambda t: ThresholdRuleFactory(organization=t.org),
    "pipeline.MatchRun": lambda t: MatchRunFactory(organization=t.org),
    "pipeline.Opportunity": lambda t: t.opportunity(),
    "pipeline.Activity": lambda t: ActivityFactory(opportunity=t.opportunity(), body=f"{t.tag} voicemail"),
    "refinance.RefinanceTransaction": lambda t: t.refinance(),
    "core.ApiToken": _api_token,
    "rates.RateSeries": lambda t: t.series,
    "rates.RateObservation": lambda t: t.observation(),
    "rates.RateRevision": _rate_revision,
    "rates.SeriesMapping": lambda t: SeriesMappingFactory(organization=t.org, series=t.series),
    "rates.RateFetch": _rate_fetch,
    "outreach.Sequence": lambda t: t.sequence,
    "outreach.Enrollment": lambda t: t.enrollment(),
    "outreach.Message": lambda t: t.message(),
    "outreach.BookingRequest": _booking,
    "reports.WeeklyReportSend": _weekly_send,
    "los.LosConnection": _los_connection,
    "los.LosSync": _los_sync,
    "los.ProcessedFile": _processed_file,
    "los.Application": _application,
    "webhooks.WebhookEndpoint": _webhook_endpoint,
    "webhooks.WebhookDelivery": _webhook_delivery,
    "scoring.ScoringPolicy": lambda t: ScoringPolicy.objects.create(organization=t.org),
    "scoring.PropensityModel": lambda t: model_ensure(organization=t.org),
    "scoring.ScoringRun": lambda t: ScoringRun.objects.create(organization=t.org, started_at=NOW),
    "campaigns.Campaign": lambda t: _campaign(t).row,
    "automations.StatusTemplate": _status_template,
    "automations.LoanReview": _loan_review,
    "automations.OfficerNotification": _officer_notification,
}

# Admins whose model has no organization at all (nothing of a tenant in them): managers get no access.
NO_ORGANIZATION_ADMINS = {
    "auth.Group",
    "axes.AccessAttempt",
    "axes.AccessFailureLog",
    "axes.AccessLog",
    "auth.User",
    "django_q.Schedule",
    "django_q.Success",
    "django_q.Failure",
    "django_q.OrmQ",
    "outreach.WebhookEvent",
    "outreach.LocalSms",
    "scoring.HousePriceIndex",
}

# Admins only an organization's admins open (branch managers and loan officers get 403 even with permissions).
ORG_ADMIN_ONLY_ADMINS = {"webhooks.WebhookEndpoint", "webhooks.WebhookDelivery"}

# Admin URLs beyond Django's own (changelist/add/change/delete/history) that take an object id.
ADMIN_EXTRA_URLS = {
    "admin:outreach_sequence_preview": "outreach.Sequence",
    "admin:los_losconnection_test": "los.LosConnection",
}
STANDARD_ADMIN_URL_SUFFIXES = ("_changelist", "_add", "_change", "_delete", "_history")


def _org_path(model: type[models.Model], depth: int = 4) -> str | None:
    """A foreign-key path from ``model`` to Organization (directly or through parents), or None."""
    if model is Organization:
        return "pk"
    if depth == 0:
        return None
    for f in model._meta.concrete_fields:
        if f.many_to_one and f.related_model is not None and f.related_model is not model:
            if f.related_model is Organization:
                return f.name
            rest = _org_path(f.related_model, depth - 1)
            if rest is not None and f.related_model._meta.app_label in TRACKED_APPS:
                return f"{f.name}__{rest}"
    return None


REGISTRY = sorted(admin.site._registry, key=lambda m: m._meta.label)
TENANT_ADMIN_MODELS = [m for m in REGISTRY if m._meta.label not in NO_ORGANIZATION_ADMINS]


def test_every_admin_is_classified():
    """A new admin is either of a model with an organization (then it needs a maker) or has none at all."""
    labels = {m._meta.label for m in REGISTRY}
    for model in REGISTRY:
        label = model._meta.label
        if label in NO_ORGANIZATION_ADMINS:
            assert _org_path(model) is None, f"{label} reaches an organization: give it a maker in ADMIN_MAKERS"
        else:
            assert _org_path(model) is not None, f"{label} has no organization: list it in NO_ORGANIZATION_ADMINS"
            assert label in ADMIN_MAKERS, f"{label} is a tenant admin without a maker in ADMIN_MAKERS"
    assert sorted(set(ADMIN_MAKERS) - labels) == [], "ADMIN_MAKERS names models that are no longer in admin"
    assert sorted(NO_ORGANIZATION_ADMINS - labels) == []


def test_every_extra_admin_url_with_an_id_is_in_the_table():
    found = set()
    for model, model_admin in admin.site._registry.items():
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None)
            if (
                name
                and "object_id" in pattern.pattern.regex.groupindex
                and not name.endswith(STANDARD_ADMIN_URL_SUFFIXES)
            ):
                found.add(f"admin:{name}")
    assert found == set(ADMIN_EXTRA_URLS)


@pytest.fixture
def staff_manager(org_a) -> LoanOfficer:
    """Org A's branch manager with every model permission of loans, rates, outreach and reports."""
    manager = org_a.manager
    manager.user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=MANAGER_APPS))
    return manager


def _admin_url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _request_for(user: Any) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _same_as_missing(client: Client, url_for: Callable[[Any], str], row_pk: Any, method: str, data: Any) -> Any:
    """The response for another tenant's row must be the one for an id that does not exist."""

    def call(pk: Any) -> Any:
        url = url_for(pk)
        return client.get(url) if method == "GET" else client.post(url, data)

    missing, response = call(MISSING_PK), call(row_pk)
    assert response.status_code in (302, 403, 404), response.status_code
    assert response.status_code == missing.status_code
    if response.status_code == 302:
        assert response.url == missing.url == reverse("admin:index")
        followed = client.get(response.url)
        assert "doesn’t exist" in followed.content.decode()
        assert_no_b(followed.content)
    assert_no_b(response.content)
    return response


@pytest.mark.parametrize("model", TENANT_ADMIN_MODELS, ids=lambda m: m._meta.label)
def test_admin_shows_nothing_of_another_organization(model, org_a, org_b, staff_manager):
    label = model._meta.label
    model_admin = admin.site._registry[model]
    mine, theirs = ADMIN_MAKERS[label](org_a), ADMIN_MAKERS[label](org_b)
    staff = org_a.admin if label in ORG_ADMIN_ONLY_ADMINS else staff_manager
    if staff is org_a.admin:
        staff.user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=MANAGER_APPS))
    client = client_for(staff)
    before = snapshot(theirs)

    # Changelist (and a search for B's marker): B's row is not listed, no string of B is on the page.
    changelist = client.get(_admin_url(model, "changelist"))
    assert changelist.status_code == 200
    listed = {obj.pk for obj in changelist.context["cl"].result_list}
    assert mine.pk in listed and theirs.pk not in listed
    assert_no_b(changelist.content, "changelist")
    if model_admin.search_fields:
        search = client.get(_admin_url(model, "changelist"), {"q": "orgb"})  # matches B's strings (icontains)
        assert list(search.context["cl"].result_list) == []
        assert_no_b(search.content, "search")

    # Own row's change page and the add page: no foreign-key choice or inline of B.
    own_page = client.get(_admin_url(model, "change", mine.pk))
    assert own_page.status_code == 200
    assert_no_b(own_page.content)
    request = _request_for(staff.user)
    if model_admin.has_add_permission(request):
        add_page = client.get(_admin_url(model, "add"))
        assert add_page.status_code == 200
        assert_no_b(add_page.content)

    # B's row: change (GET and a POST of its own values), history, delete (confirmed) — as if it did not exist.
    post = {k: ("" if v is None else v) for k, v in before[1][0].items()} | {"name": "hijacked", "_save": "Save"}
    _same_as_missing(client, lambda pk: _admin_url(model, "change", pk), theirs.pk, "GET", None)
    _same_as_missing(client, lambda pk: _admin_url(model, "change", pk), theirs.pk, "POST", post)
    _same_as_missing(client, lambda pk: _admin_url(model, "history", pk), theirs.pk, "GET", None)
    _same_as_missing(client, lambda pk: _admin_url(model, "delete", pk), theirs.pk, "GET", None)
    _same_as_missing(client, lambda pk: _admin_url(model, "delete", pk), theirs.pk, "POST", {"post": "yes"})

    # "View on site" of B's row (and, the control, of A's row when the model has a page).
    content_type = ContentType.objects.get_for_model(model)
    if hasattr(model, "get_absolute_url"):
        own_site = client.get(reverse("admin:view_on_site", args=[content_type.pk, mine.pk]))
        assert own_site.status_code == 302 and own_site.url.endswith(mine.get_absolute_url())
    _same_as_missing(
        client, lambda pk: reverse("admin:view_on_site", args=[content_type.pk, pk]), theirs.pk, "GET", None
    )

    # Every action on the changelist, with B's row selected: nothing happens to it.
    for action in model_admin.get_actions(request):
        response = client.post(
            _admin_url(model, "changelist"),
            {"action": action, admin.helpers.ACTION_CHECKBOX_NAME: [theirs.pk], "post": "yes", "index": "0"},
        )
        assert response.status_code in (200, 302), (action, response.status_code)
        assert_no_b(response.content, action)

    assert snapshot(theirs) == before


@pytest.mark.parametrize("name", sorted(ADMIN_EXTRA_URLS))
def test_admin_extra_urls_are_404_for_another_organization(name, org_a, org_b, staff_manager):
    label = ADMIN_EXTRA_URLS[name]
    mine, theirs = ADMIN_MAKERS[label](org_a), ADMIN_MAKERS[label](org_b)
    org_a.opportunity()  # something to preview against
    client = client_for(staff_manager)
    assert client.get(reverse(name, args=[mine.pk])).status_code == 200  # the control
    before = snapshot(theirs)
    response = client.get(reverse(name, args=[theirs.pk]))
    assert response.status_code == 404
    assert_no_b(response.content)
    assert snapshot(theirs) == before


@pytest.mark.parametrize(
    "model", [m for m in REGISTRY if m._meta.label in NO_ORGANIZATION_ADMINS], ids=lambda m: m._meta.label
)
def test_admins_without_an_organization_are_closed_to_managers(model, staff_manager):
    client = client_for(staff_manager)
    assert client.get(_admin_url(model, "changelist")).status_code == 403


@pytest.mark.parametrize("label", sorted(ORG_ADMIN_ONLY_ADMINS))
@pytest.mark.parametrize("role", ["manager", "officer"])
def test_org_admin_only_admins_are_closed_to_managers_and_officers(label, role, org_a, staff_manager):
    model = apps.get_model(label)
    mine = ADMIN_MAKERS[label](org_a)
    profile = getattr(org_a, role)
    profile.user.is_staff = True
    profile.user.save()
    profile.user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=MANAGER_APPS))
    client = client_for(profile)
    assert client.get(_admin_url(model, "changelist")).status_code == 403
    assert client.get(_admin_url(model, "change", mine.pk)).status_code in (302, 403)
    assert model._meta.verbose_name_plural.lower() not in client.get(reverse("admin:index")).content.decode().lower()


def test_admin_index_lists_only_the_managers_apps(staff_manager):
    body = client_for(staff_manager).get(reverse("admin:index")).content.decode()
    assert "Loans" in body and "Users" not in body
