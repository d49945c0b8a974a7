"""The demo lender: one organization with staff, products and a loan book priced from real rate history.

Everything is deterministic (fixed seeds per loan) and upserted by natural keys (org slug, branch name,
username, product code, loan number), so running it again changes nothing. Loans go through the same
upsert as LOS imports (``loan_rows_upsert``), so an unchanged loan is not even rewritten.

Each loan's note rate is the real market rate on its note date — the series that prices its product in
``rates.defaults.MAPPINGS`` (its fallback when the primary series is not shipped in ``rates/data``) — plus a
small per-loan margin, rounded to an eighth as lenders quote. Loans from 2023-24 therefore sit well above
today's rates and loans from 2020-21 well below, like a real book.

``demo_seed`` runs the steps in order; later features (rate history, thresholds, sequences, the first
match) add their own step functions and are called after ``demo_loans``.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import models, transaction

from core.choices import Amortization, ProductType, term_bucket
from core.models import Branch, LoanOfficer, Organization
from core.us_states import state_timezone
from loans.importers.base import LoanRow, finish_row
from loans.limits import conforming_baseline
from loans.models import Loan, LoanProduct
from loans.services.imports import ImportResult, loan_rows_upsert
from los.models import LosConnection, ProcessedFile
from los.services.connections import los_connection_save
from outreach.services import enrollments_create_for_new_opportunities
from pipeline.models import MatchRun
from pipeline.services.matching import match_organization
from rates.defaults import MAPPINGS
from rates.selectors import organization_today
from rates.services import demo_rate_sheet_ensure, rates_load_shipped_history
from refiapp.demo_automations import demo_webhook_endpoint
from refiapp.demo_history import HistoryResult, demo_history
from refiapp.onboarding import manager_group_ensure, organization_ensure_defaults
from scoring.services.demo import demo_scoring

DEMO_SLUG = "demo"
DEMO_PASSWORD = "refiapp-demo-2025"  # demo data only; printed by seed_demo and demo_logins
FIRST_NOTE_DATE = dt.date(2020, 10, 1)
LAST_NOTE_DATE = dt.date(2025, 9, 30)
AS_OF = dt.date(2025, 9, 30)

ORGANIZATION = {
    "name": "Prairie State Home Lending",
    "nmls_id": "1849203",
    "postal_address": "401 N Michigan Avenue, Suite 1200, Chicago, IL 60611",
    "timezone": "America/Chicago",
    # The demo routes by score (scoring.services.demo): the sequence for high scores, the digest for the rest.
    "auto_enroll": False,
}
BRANCH = {"name": "Chicago Loop", "code": "CHI01", "nmls_id": "1849217"}

# username, first, last, role, NMLS id, phone
STAFF = [
    ("olivia.bennett", "Olivia", "Bennett", LoanOfficer.Role.LOAN_OFFICER, "2210431", "+13125550111"),
    ("marcus.reed", "Marcus", "Reed", LoanOfficer.Role.LOAN_OFFICER, "2210458", "+13125550112"),
    ("priya.shah", "Priya", "Shah", LoanOfficer.Role.LOAN_OFFICER, "2210472", "+13125550113"),
    ("daniel.kim", "Daniel", "Kim", LoanOfficer.Role.BRANCH_MANAGER, "1984420", "+13125550120"),
    ("rachel.torres", "Rachel", "Torres", LoanOfficer.Role.ORG_ADMIN, "1650077", "+13125550100"),
]
EMAIL_DOMAIN = "prairiestatehl.example"

# code: name, product type, term, rate type, max LTV rate-term, max LTV cash-out, min score, max DTI, max amount
# (the 2026 high-cost conforming ceiling and the 2025 FHA ceiling: the county limits of loans.limits decide the rest)
# fmt: off
PRODUCTS: dict[str, tuple[str, str, int, str, str, str, int, str, str | None]] = {
    "CONF30": ("Conforming 30-year fixed",
                ProductType.CONFORMING, 360, "fixed", "97.00", "80.00", 620, "50.00", "1249125"),
    "CONF15": ("Conforming 15-year fixed",
                ProductType.CONFORMING, 180, "fixed", "97.00", "80.00", 620, "50.00", "1249125"),
    "JUMBO30": ("Jumbo 30-year fixed", ProductType.JUMBO, 360, "fixed", "89.99", "70.00", 700, "43.00", "3000000"),
    "FHA30": ("FHA 30-year fixed", ProductType.FHA, 360, "fixed", "96.50", "80.00", 580, "56.99", "1209750"),
    "VA30": ("VA 30-year fixed", ProductType.VA, 360, "fixed", "100.00", "90.00", 580, "60.00", None),
    "USDA30": ("USDA Guaranteed 30-year fixed", ProductType.USDA, 360, "fixed", "100.00", "80.00", 640, "41.00", None),
}
# fmt: on
PRODUCT_MIX = [("CONF30", 52), ("CONF15", 12), ("JUMBO30", 8), ("FHA30", 14), ("VA30", 10), ("USDA30", 4)]


FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Karen", "Christopher", "Sarah",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Steven", "Emily",
    "Andrew", "Michelle", "Joshua", "Amanda", "Kevin", "Melissa", "Brian", "Stephanie", "Jose", "Maria",
    "Luis", "Ana", "Wei", "Mei", "Arjun", "Aisha", "Omar", "Fatima", "Tyrone", "Keisha",
    "Hiroshi", "Yuki", "Dmitri", "Olga", "Mateo", "Sofia", "Liam", "Chloe", "Noah", "Grace",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Flores", "Green",
    "Kowalski", "Nowak", "Patel", "Chen", "Kim", "Okafor", "O'Brien", "Schmidt", "Novak", "Sullivan",
]  # fmt: skip
# state, weight, area codes
STATES = [
    ("IL", 55, ("312", "773", "630", "847", "708", "815")),
    ("WI", 10, ("414", "608", "262")),
    ("IN", 8, ("317", "219", "574")),
    ("MI", 5, ("313", "616", "248")),
    ("MO", 4, ("314", "816")),
    ("MN", 3, ("612", "651")),
    ("IA", 3, ("515", "319")),
    ("TX", 3, ("214", "512", "713")),
    ("FL", 3, ("305", "407", "813")),
    ("AZ", 2, ("480", "602")),
    ("CA", 2, ("415", "619", "310")),
    ("NY", 2, ("212", "718", "585")),
]
CITIES = {
    "IL": "Chicago", "WI": "Milwaukee", "IN": "Indianapolis", "MI": "Grand Rapids", "MO": "St. Louis",
    "MN": "Minneapolis", "IA": "Des Moines", "TX": "Austin", "FL": "Orlando", "AZ": "Scottsdale",
    "CA": "San Diego", "NY": "Rochester",
}  # fmt: skip
STREETS = ["Oak", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Lincoln", "Prairie", "River", "Main"]


@dataclass
class DemoResult:
    organization: Organization
    changes: dict[str, str] = field(default_factory=dict)  # what -> created / updated / unchanged
    loans: ImportResult | None = None
    match_run: MatchRun | None = None
    enrolled: int = 0
    history: HistoryResult | None = None
    scoring: Any = None  # scoring.services.demo.ScoringDemo

    def lines(self) -> list[str]:
        lines = [f"{what}: {outcome}" for what, outcome in self.changes.items()]
        if self.loans is not None:
            loans = self.loans
            lines.append(f"loans: {loans.created} created, {loans.updated} updated, {loans.unchanged} unchanged")
        if self.history is not None:
            lines.append(self.history.line())
        if self.match_run is not None:
            run = self.match_run
            lines.append(
                f"match as of {run.as_of}: {run.considered} considered, {run.matched} matched, {run.created} new, "
                f"{run.updated} updated, {run.expired} no longer qualifying"
            )
            lines.append(f"enrolled in the default sequence: {self.enrolled}")
        if self.scoring is not None:
            lines.extend(self.scoring.lines())
        return lines


def _upsert(
    model: type[models.Model], lookup: dict[str, Any], values: dict[str, Any], *, exclude: tuple[str, ...] = ()
) -> tuple[Any, str]:
    """Create, or update only the fields that differ; reports created / updated / unchanged."""
    obj = model._default_manager.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values)
        obj.full_clean(exclude=list(exclude))
        obj.save()
        return obj, "created"
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if not changed:
        return obj, "unchanged"
    for name in changed:
        setattr(obj, name, values[name])
    obj.full_clean(exclude=list(exclude))
    obj.save(update_fields=changed)
    return obj, "updated"


def demo_organization(changes: dict[str, str] | None = None) -> tuple[Organization, Branch]:
    organization, outcome = _upsert(Organization, {"slug": DEMO_SLUG}, ORGANIZATION)
    branch, branch_outcome = _upsert(
        Branch,
        {"organization": organization, "name": BRANCH["name"]},
        {
            "code": BRANCH["code"],
            "nmls_id": BRANCH["nmls_id"],
        },
    )
    if changes is not None:
        changes["organization"] = outcome
        changes["branch"] = branch_outcome
    return organization, branch


def demo_staff(organization: Organization, branch: Branch, changes: dict[str, str] | None = None) -> list[LoanOfficer]:
    group, group_outcome = manager_group_ensure()
    user_model = get_user_model()
    profiles = []
    outcomes = []
    for username, first, last, role, nmls_id, phone in STAFF:
        is_manager = role != LoanOfficer.Role.LOAN_OFFICER
        email = f"{username}@{EMAIL_DOMAIN}"
        user, outcome = _upsert(
            user_model,
            {"username": username},
            {"first_name": first, "last_name": last, "email": email, "is_staff": is_manager, "is_active": True},
            exclude=("password",),  # set just below, hashed
        )
        if _password_ensure(user):
            outcome = "created" if outcome == "created" else "updated"
        if is_manager and not user.groups.filter(pk=group.pk).exists():
            user.groups.add(group)
            outcome = "created" if outcome == "created" else "updated"
        profile, profile_outcome = _upsert(
            LoanOfficer,
            {"user": user},
            {
                "organization": organization,
                "branch": None if role == LoanOfficer.Role.ORG_ADMIN else branch,
                "role": role,
                "display_name": f"{first} {last}",
                "nmls_id": nmls_id,
                "email": email,
                "phone": phone,
                "scheduling_url": f"https://meet.{EMAIL_DOMAIN}/{username.replace('.', '-')}",
                "is_active": True,
            },
        )
        profiles.append(profile)
        outcomes += [outcome, profile_outcome]
    if changes is not None:
        changes["manager group"] = group_outcome
        changes["staff"] = _combined(outcomes)
    return profiles


@cache
def _demo_password_hash() -> str:
    """One hash of the (public, printed) demo password for every demo user: each PBKDF2 hash costs about a second,
    and the seed must stay quick."""
    return make_password(DEMO_PASSWORD)


def _password_ensure(user: Any) -> bool:
    """Give ``user`` the demo password; True when it changed. A new user (no password yet) is not checked: Django
    would hash a dummy password to hide the timing, which the seed need not spend."""
    if user.password and user.has_usable_password() and user.check_password(DEMO_PASSWORD):
        return False
    user.password = _demo_password_hash()
    user.save(update_fields=["password"])
    return True


def demo_products(organization: Organization, changes: dict[str, str] | None = None) -> list[LoanProduct]:
    products, outcomes = [], []
    for code, (name, product_type, term, rate_type, ltv, ltv_cash, score, dti, max_amount) in PRODUCTS.items():
        product, outcome = _upsert(
            LoanProduct,
            {"organization": organization, "code": code},
            {
                "name": name,
                "product_type": product_type,
                "term_months": term,
                "rate_type": rate_type,
                "max_ltv_rate_term": Decimal(ltv),
                "max_ltv_cash_out": Decimal(ltv_cash),
                "min_credit_score": score,
                "max_dti": Decimal(dti),
                "max_loan_amount": Decimal(max_amount).quantize(Decimal("0.01")) if max_amount else None,
                "closing_cost_fixed": Decimal("1500.00"),
                "closing_cost_percent": Decimal("1.000"),
                "is_active": True,
            },
        )
        products.append(product)
        outcomes.append(outcome)
    if changes is not None:
        changes["products"] = _combined(outcomes)
    return products


def _combined(outcomes: list[str]) -> str:
    for outcome in ("created", "updated"):
        if outcome in outcomes:
            return outcome
    return "unchanged"


# --- rate history -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateHistory:
    dates: list[dt.date]
    rates: list[Decimal]

    def on(self, date: dt.date) -> Decimal:
        """The latest observation on or before ``date``."""
        index = bisect.bisect_right(self.dates, date) - 1
        if index < 0:
            raise LookupError(f"no observation on or before {date}")
        return self.rates[index]


@cache
def rate_history(code: str) -> RateHistory | None:
    """A shipped FRED series from ``rates/data/<code>.csv`` (comment line, header, date,value; blanks skipped)."""
    path = Path(settings.BASE_DIR) / "rates" / "data" / f"{code}.csv"
    if not path.exists():
        return None
    dates, rates = [], []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(line for line in handle if not line.startswith("#"))
        next(rows)  # header: DATE or observation_date, then the series id
        for row in rows:
            if len(row) < 2 or not row[1].strip() or row[1].strip() == ".":
                continue
            dates.append(dt.date.fromisoformat(row[0]))
            rates.append(Decimal(row[1].strip()))
    return RateHistory(dates, rates)


def pricing_history(product_type: str, term_months: int) -> tuple[str, RateHistory]:
    """The series that prices a product (its fallback when the primary is not shipped)."""
    primary, fallback = MAPPINGS[(product_type, term_bucket(term_months))]
    for code in (primary, fallback):
        history = rate_history(code)
        if history is not None:
            return code, history
    raise LookupError(f"no shipped rate history for {product_type}/{term_months}")


# --- loans --------------------------------------------------------------------------------------------------

EIGHTH = Decimal("0.125")
MARGINS = [Decimal(m) for m in ("-0.125", "0", "0", "0.125", "0.125", "0.25", "0.375")]


def _weighted(rng: random.Random, choices: list[tuple[Any, int]]) -> Any:
    return rng.choices([c for c, _w in choices], weights=[w for _c, w in choices])[0]


def _round_to(value: float, step: int) -> Decimal:
    return Decimal(int(round(value / step)) * step).quantize(Decimal("0.01"))


def demo_loan_row(index: int, officers: list[LoanOfficer], branch: Branch) -> LoanRow:
    """Loan number ``index`` of the demo book; the same index always gives the same loan."""
    rng = random.Random(f"refiapp-demo-loan-{index}")
    code = _weighted(rng, PRODUCT_MIX)
    _name, product_type, term, _rt, _ltv, _cash, _score, _dti, _max = PRODUCTS[code]
    _series, history = pricing_history(product_type, term)
    last = min(LAST_NOTE_DATE, history.dates[-1])
    note_date = FIRST_NOTE_DATE + dt.timedelta(days=rng.randrange((last - FIRST_NOTE_DATE).days + 1))
    market = history.on(note_date)
    note_rate = ((market + rng.choice(MARGINS)) / EIGHTH).quantize(Decimal("1"), ROUND_HALF_UP) * EIGHTH

    limit = float(conforming_baseline(note_date.year))
    if product_type == ProductType.JUMBO:
        amount = _round_to(rng.triangular(limit + 15_000, 2_000_000, limit + 250_000), 500)
    else:
        low, high, mode = {
            ProductType.CONFORMING: (95_000, limit - 5_000, 330_000),
            ProductType.FHA: (110_000, 480_000, 260_000),
            ProductType.VA: (150_000, 720_000, 360_000),
            ProductType.USDA: (95_000, 320_000, 205_000),
        }[product_type]
        amount = _round_to(rng.triangular(low, high, mode), 500)
    ltv = {
        ProductType.CONFORMING: (55, 95),
        ProductType.JUMBO: (55, 80),
        ProductType.FHA: (88, 96.5),
        ProductType.VA: (90, 100),
        ProductType.USDA: (94, 100),
    }[product_type]
    property_value = _round_to(float(amount) * 100 / rng.uniform(*ltv), 1000)
    score_range = {ProductType.JUMBO: (720, 815), ProductType.FHA: (600, 720), ProductType.USDA: (640, 760)}
    credit_score = rng.randint(*score_range.get(product_type, (660, 815)))
    dti = Decimal(str(round(rng.uniform(18, 55 if product_type == ProductType.FHA else 49), 1))).quantize(
        Decimal("0.01")
    )
    refi_boom = note_date < dt.date(2022, 1, 1)
    purpose = _weighted(
        rng,
        [
            (Loan.Purpose.PURCHASE, 40 if refi_boom else 85),
            (Loan.Purpose.RATE_TERM_REFI, 45 if refi_boom else 5),
            (Loan.Purpose.CASH_OUT_REFI, 15 if refi_boom else 10),
        ],
    )
    occupancy = Loan.Occupancy.PRIMARY
    if product_type in (ProductType.CONFORMING, ProductType.JUMBO):
        occupancy = _weighted(
            rng,
            [(Loan.Occupancy.PRIMARY, 90), (Loan.Occupancy.SECOND_HOME, 6), (Loan.Occupancy.INVESTMENT, 4)],
        )
    amortization = Amortization.FIXED
    if term == 360 and product_type in (ProductType.CONFORMING, ProductType.JUMBO) and rng.random() < 0.04:
        amortization = Amortization.ARM
    status = Loan.Status.PAID_OFF if refi_boom and rng.random() < 0.06 else Loan.Status.ACTIVE
    days_past_due = 30 if rng.random() < 0.02 else 0

    state, _weight, area_codes = _weighted(rng, [(s, s[1]) for s in STATES])
    first, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email_local = f"{first}.{last_name}".lower().replace("'", "")
    mobile = f"+1{rng.choice(area_codes)}55501{rng.randrange(100):02d}"
    sms = rng.random() < 0.60
    values: dict[str, Any] = {
        "loan_number": str(5_820_000_000 + index),
        "original_amount": amount,
        "note_rate": note_rate,
        "term_months": term,
        "note_date": note_date,
        "product_type": product_type,
        "amortization": amortization,
        "purpose": purpose,
        "lien_position": Loan.Lien.FIRST,
        "occupancy": occupancy,
        "property_value": property_value,
        "property_street": f"{rng.randint(100, 9899)} {rng.choice(STREETS)} {rng.choice(['St', 'Ave', 'Dr', 'Ln'])}",
        "property_city": CITIES[state],
        "property_state": state,
        "property_zip": f"{rng.randint(10000, 99999)}",
        "credit_score": credit_score,
        "dti": dti,
        "days_past_due": days_past_due,
        "status": status,
        "borrower_first_name": first,
        "borrower_last_name": last_name,
        "borrower_email": f"{email_local}{index}@example.com",
        "borrower_mobile": mobile,
        "borrower_state": state,
        "borrower_timezone": state_timezone(state),
        "email_consent": rng.random() < 0.92,
        "sms_consent": sms,
        "do_not_contact": rng.random() < 0.02,
        "loan_officer": officers[index % len(officers)].email,
        "branch": branch.name,
    }
    if sms:
        values["sms_consent_source"] = f"E-signed SMS consent on the loan application ({note_date.isoformat()})"
    return finish_row(LoanRow(line=index, values=values), today=AS_OF)


def demo_loans(organization: Organization, officers: list[LoanOfficer], branch: Branch, *, count: int) -> ImportResult:
    """The book, upserted; a loan the demo's history refinanced (``refinance_fund``) stays refinanced, as the
    servicing file would say, so a rerun leaves it unchanged."""
    refinanced = set(
        Loan.objects.filter(organization=organization, status=Loan.Status.REFINANCED).values_list(
            "loan_number", flat=True
        )
    )

    def rows() -> Iterator[LoanRow]:
        for index in range(1, count + 1):
            row = demo_loan_row(index, officers, branch)
            if row.values["loan_number"] in refinanced:
                row.values["status"] = Loan.Status.REFINANCED
            yield row

    return loan_rows_upsert(
        organization=organization,
        rows=rows(),
        source=Loan.Source.DEMO,
        consent_source="Demo data: consent captured at application",
        as_of=AS_OF,
    )


def demo_market(organization: Organization, changes: dict[str, str] | None = None) -> None:
    """The real FRED history shipped in rates/data, the organization's defaults (mappings, thresholds, default
    sequence) and the demo desk rate sheet dated today (its titles name the FRED observation each value is
    copied from), so the demo is priced on real rates without being blocked as stale."""
    loaded = sum(result.created + result.revised for result in rates_load_shipped_history().values())
    organization_ensure_defaults(organization=organization)
    sheets = demo_rate_sheet_ensure(organization=organization, as_of=organization_today(organization))
    if changes is not None:
        changes["rate history"] = f"{loaded} new observations" if loaded else "unchanged"
        changes["demo rate sheet"] = f"{len(sheets)} series priced as of today" if sheets else "none mapped"


def demo_seed(*, loans: int = 300) -> DemoResult:
    """Build (or bring up to date) the demo lender, replay its last twelve weeks (``demo_history``: matches, sends,
    engagement, applications and fundings through the real services), run today's match, then train, score and
    route it (scoring).
    Safe to run any number of times: a rerun on the same day changes nothing."""
    with transaction.atomic():
        changes: dict[str, str] = {}
        organization, branch = demo_organization(changes)
        staff = demo_staff(organization, branch, changes)
        demo_operator(changes)
        demo_products(organization, changes)
        officers = [p for p in staff if p.role == LoanOfficer.Role.LOAN_OFFICER]
        loan_result = demo_loans(organization, officers, branch, count=loans)
        demo_market(organization, changes)
        demo_drop_folder(organization, changes)
    history = demo_history(organization=organization)
    demo_webhook_endpoint(organization, changes)  # after the history: the CRM receives what happens from now on
    run = match_organization(organization=organization, trigger=MatchRun.Trigger.COMMAND)
    enrolled = enrollments_create_for_new_opportunities(organization=organization)
    scoring = demo_scoring(organization=organization)
    return DemoResult(
        organization=organization,
        changes=changes,
        loans=loan_result,
        match_run=run,
        enrolled=enrolled,
        history=history,
        scoring=scoring,
    )


DEMO_EXPORT = Path(__file__).resolve().parent / "data" / "demo_los_export.csv"
DEMO_EXPORT_NAME = "byte-nightly-2025-09-30.csv"


def demo_drop_folder(organization: Organization, changes: dict[str, str] | None = None) -> LosConnection:
    """A drop-folder connection (daily at 05:00 Chicago time) on MEDIA_ROOT/demo-drop-folder holding one real-format
    export: twelve new loans in the documented CSV format (refiapp/data/demo_los_export.csv). The export is put
    there once; after the first sync it sits in processed/ and the ledger keeps it from being imported again."""
    folder = Path(settings.MEDIA_ROOT) / "demo-drop-folder"
    folder.mkdir(parents=True, exist_ok=True)
    connection, outcome = los_connection_save(
        organization=organization,
        kind=LosConnection.Kind.FOLDER,
        name="Byte nightly export (demo)",
        folder=str(folder),
        schedule=LosConnection.Schedule.DAILY,
        run_at=dt.time(5, 0),
    )
    waiting = folder / DEMO_EXPORT_NAME
    if not waiting.exists() and not ProcessedFile.objects.filter(connection=connection).exists():
        shutil.copyfile(DEMO_EXPORT, waiting)
        outcome = "created" if outcome == "created" else "updated"
    if changes is not None:
        changes["LOS drop folder"] = outcome
    return connection


OPERATOR_USERNAME = "ops.admin"  # the demo's operator: a superuser for /admin/ (task queue, webhooks, local SMS)


def demo_operator(changes: dict[str, str] | None = None) -> None:
    user, outcome = _upsert(
        get_user_model(),
        {"username": OPERATOR_USERNAME},
        {
            "first_name": "Demo",
            "last_name": "Operator",
            "email": f"{OPERATOR_USERNAME}@{EMAIL_DOMAIN}",
            "is_staff": True,
            "is_superuser": True,
            "is_active": True,
        },
        exclude=("password",),
    )
    if _password_ensure(user):
        outcome = "created" if outcome == "created" else "updated"
    if changes is not None:
        changes["operator"] = outcome


def demo_logins() -> list[tuple[str, str, str]]:
    """(username, role, password) of every demo user."""
    roles = dict(LoanOfficer.Role.choices)
    staff = [(username, str(roles[role]), DEMO_PASSWORD) for username, _f, _l, role, _n, _p in STAFF]
    return [*staff, (OPERATOR_USERNAME, "Operator (superuser, /admin/ only)", DEMO_PASSWORD)]
