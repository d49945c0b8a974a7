"""Benchmark: the pipeline board at 1,000,000 loans / ~200,000 opportunities on PostgreSQL.

    .venv/bin/python bench/board.py                # build the data once (a few minutes), then time
    .venv/bin/python bench/board.py --rebuild      # drop and rebuild the benchmark database
    .venv/bin/python bench/board.py --requests 50

It uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/refiapp_bench_board),
fills it with generate_series (one organization of 20 branches and 200 loan officers; 1,000,000 borrowers and
loans; every fifth loan an opportunity, about 96 % of them in an open stage; plus a second organization that
must never show), then times the board view in-process through Django's test Client as a loan officer, a
branch manager and an org admin: the first page, and a filtered + sorted page. Server time per request =
the wall time of ``Client.get`` (URL routing, middleware, session, queries, template rendering).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/refiapp_bench_board"
LOANS = int(os.environ.get("BENCH_LOANS", 1_000_000))
OPPORTUNITY_EVERY = 5  # every fifth loan → 200,000 opportunities
BRANCHES = 20
OFFICERS_PER_BRANCH = 10


def configure(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # DEBUG off, plain static storage
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    import django

    django.setup()


def ensure_database(database_url: str, *, rebuild: bool) -> bool:
    """Create the benchmark database when missing (or when rebuilding); True when it needs data."""
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
        if exists and rebuild:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = False
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if exists:
        with psycopg.connect(database_url) as conn:
            try:
                done = conn.execute("SELECT count(*) FROM pipeline_opportunity").fetchone()[0] > 0
            except psycopg.errors.UndefinedTable:
                done = False
        if done:
            return False
        # A build that stopped half-way: start again from an empty database.
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def step(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label}: {now - started:.1f} s", flush=True)
    return now


def build() -> None:
    import datetime as dt
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from core.models import Branch, LoanOfficer, Organization
    from pipeline.models import MatchRun
    from rates.models import RateObservation, RateSeries, SeriesMapping

    print("Building the benchmark data …", flush=True)
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    t = step("migrate", t)

    User = get_user_model()
    org = Organization.objects.create(name="Bench Lender", slug="bench", postal_address="1 Bench St", timezone="UTC")
    other = Organization.objects.create(name="Other Lender", slug="other", postal_address="2 Other St")
    branches = [Branch.objects.create(organization=org, name=f"Branch {b:02d}") for b in range(BRANCHES)]
    officers = []
    for b, branch in enumerate(branches):
        for o in range(OFFICERS_PER_BRANCH):
            user = User.objects.create_user(f"lo{b:02d}{o:02d}", password="bench-pass")
            officers.append(
                LoanOfficer.objects.create(
                    user=user,
                    organization=org,
                    branch=branch,
                    display_name=f"Officer {b:02d}-{o:02d}",
                    email=f"lo{b:02d}{o:02d}@bench.example.com",
                )
            )
    manager_user = User.objects.create_user("manager", password="bench-pass")
    LoanOfficer.objects.create(
        user=manager_user,
        organization=org,
        branch=branches[0],
        role=LoanOfficer.Role.BRANCH_MANAGER,
        display_name="Branch Manager",
        email="manager@bench.example.com",
    )
    admin_user = User.objects.create_user("admin", password="bench-pass")
    LoanOfficer.objects.create(
        user=admin_user,
        organization=org,
        role=LoanOfficer.Role.ORG_ADMIN,
        display_name="Org Admin",
        email="admin@bench.example.com",
    )
    other_branch = Branch.objects.create(organization=other, name="Elsewhere")
    other_officer = LoanOfficer.objects.create(
        user=User.objects.create_user("other", password="bench-pass"),
        organization=other,
        branch=other_branch,
        display_name="Other Officer",
        email="other@other.example.com",
    )
    today = dt.date.today()
    for code, product, term in (
        ("OBMMIC30YF", "conforming", 360),
        ("OBMMIC15YF", "conforming", 180),
        ("OBMMIFHA30YF", "fha", 360),
        ("OBMMIVA30YF", "va", 360),
        ("OBMMIJUMBO30YF", "jumbo", 360),
        ("OBMMIUSDA30YF", "usda", 360),
    ):
        series = RateSeries.objects.create(code=code, title=code, product_type=product, term_months=term)
        for days in range(30):
            RateObservation.objects.create(
                series=series, date=today - dt.timedelta(days=days + 1), rate=Decimal("6.125")
            )
        SeriesMapping.objects.create(organization=org, product_type=product, term_months=term, series=series)
    MatchRun.objects.create(organization=org, as_of=today, status="succeeded", rule="flat", matched=200_000)
    t = step("organization, 20 branches, 202 staff, rates", t)

    officer_ids = [o.pk for o in officers]
    branch_of = {o.pk: o.branch_id for o in officers}
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_officer (n int PRIMARY KEY, officer_id bigint, branch_id bigint)")
        cur.executemany(
            "INSERT INTO bench_officer VALUES (%s, %s, %s)",
            [(n, pk, branch_of[pk]) for n, pk in enumerate(officer_ids)],
        )
        cur.execute(
            """
            INSERT INTO loans_borrower (organization_id, first_name, last_name, email, mobile_phone, mailing_state,
                timezone, email_consent, email_consent_at, sms_consent, sms_consent_at, sms_consent_source,
                do_not_contact, email_undeliverable_reason, sms_undeliverable_reason, created_at, updated_at)
            SELECT %s,
                   (ARRAY['Ada','Alan','Grace','Edsger','Barbara','Donald','Frances','John','Radia','Ken'])
                       [1 + i %% 10],
                   'Borrower' || i, 'b' || i || '@mail.example.com', '', 'IL', '', true, now(), false, NULL, '',
                   false, '', '', now(), now()
            FROM generate_series(1::bigint, %s) AS i
            """,
            [org.pk, LOANS],
        )
        t = step("1,000,000 borrowers", t)
        cur.execute("SELECT min(id) FROM loans_borrower WHERE organization_id = %s", [org.pk])
        first_borrower = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO loans_loan (organization_id, loan_number, mers_min, borrower_id, loan_officer_id, branch_id,
                product_type, amortization, purpose, lien_position, occupancy, original_amount, note_rate, term_months,
                note_date, first_payment_date, property_street, property_city, property_state, property_zip,
                days_past_due, status, source, created_at, updated_at)
            SELECT %s, 'BN' || lpad(i::text, 8, '0'), '', %s + i - 1, o.officer_id, o.branch_id,
                   (ARRAY['conforming','conforming','conforming','fha','va','jumbo','usda'])[1 + i %% 7],
                   'fixed', 'purchase', 'first', 'primary',
                   100000 + (i * 7919) %% 700000, 5.5 + ((i * 31) %% 26) * 0.1, 360,
                   DATE '2023-01-01' + (i %% 700)::int, DATE '2023-02-01' + (i %% 700)::int,
                   '', '', 'IL', '', 0, 'active', 'demo', now(), now()
            FROM generate_series(1::bigint, %s) AS i
            JOIN bench_officer o ON o.n = (i / %s) %% %s
            """,
            [org.pk, first_borrower, LOANS, OPPORTUNITY_EVERY, len(officer_ids)],
        )
        t = step("1,000,000 loans", t)
        cur.execute(
            """
            INSERT INTO pipeline_opportunity (organization_id, loan_id, borrower_id, loan_officer_id, branch_id,
                product_type, stage, qualifies, first_matched_at, last_matched_at, market_series, market_rate,
                market_rate_date, note_rate, spread, threshold, optimal_threshold, remaining_months, current_balance,
                current_payment, new_payment, monthly_savings, total_interest_savings, closing_costs,
                break_even_months, net_benefit, is_arm, seasoning_ok, attention_reason, created_at, updated_at,
                matched_spread, matched_threshold, matched_rule)
            SELECT l.organization_id, l.id, l.borrower_id, l.loan_officer_id, l.branch_id, l.product_type,
                   CASE WHEN r < 80 THEN 'new' WHEN r < 88 THEN 'contacted' WHEN r < 92 THEN 'engaged'
                        WHEN r < 94 THEN 'appointment' WHEN r < 96 THEN 'application' WHEN r < 97 THEN 'won'
                        WHEN r < 98 THEN 'lost' ELSE 'archived' END,
                   (r %% 10) <> 0, now(), now(), 'OBMMIC30YF', 6.125, CURRENT_DATE - 1 - (r %% 9)::int,
                   l.note_rate, l.note_rate - 6.125, 0.625, 1.020, (300 + l.id %% 50)::int,
                   l.original_amount * 0.95, l.original_amount * 0.0068, l.original_amount * 0.0061,
                   round((l.original_amount * 0.0007 + (l.id * 37) %% 900)::numeric, 2),
                   round((l.original_amount * 0.2 + (l.id * 101) %% 90000)::numeric, 2),
                   1500 + l.original_amount * 0.0095, (12 + l.id %% 40)::int,
                   round((l.original_amount * 0.18)::numeric, 2), false, true, '', now(), now(),
                   l.note_rate - 6.125, 0.625, 'flat'
            FROM (SELECT l.*, ((l.id / %s) * 37) %% 100 AS r FROM loans_loan l
                  WHERE l.organization_id = %s AND l.id %% %s = 0) AS l
            """,
            [OPPORTUNITY_EVERY, org.pk, OPPORTUNITY_EVERY],
        )
        t = step("opportunities", t)
        # The other organization: a few rows that must never show on this organization's board.
        cur.execute(
            """
            INSERT INTO loans_borrower (organization_id, first_name, last_name, email, mobile_phone, mailing_state,
                timezone, email_consent, sms_consent, sms_consent_source, do_not_contact, email_undeliverable_reason,
                sms_undeliverable_reason, created_at, updated_at)
            VALUES (%s, 'Other', 'Borrower', '', '', '', '', false, false, '', false, '', '', now(), now())
            RETURNING id
            """,
            [other.pk],
        )
        other_borrower = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO loans_loan (organization_id, loan_number, mers_min, borrower_id, loan_officer_id, branch_id,
                product_type, amortization, purpose, lien_position, occupancy, original_amount, note_rate, term_months,
                note_date, first_payment_date, property_street, property_city, property_state, property_zip,
                days_past_due, status, source, created_at, updated_at)
            VALUES (%s, 'OTHER-1', '', %s, %s, %s, 'fha', 'fixed', 'purchase', 'first', 'primary', 300000, 7.5, 360,
                    '2023-01-01', '2023-02-01', '', '', '', '', 0, 'active', 'demo', now(), now())
            RETURNING id
            """,
            [other.pk, other_borrower, other_officer.pk, other_branch.pk],
        )
        other_loan = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO pipeline_opportunity (organization_id, loan_id, borrower_id, loan_officer_id, branch_id,
                product_type, stage, qualifies, first_matched_at, last_matched_at, market_series, market_rate,
                market_rate_date, note_rate, spread, threshold, remaining_months, current_balance, current_payment,
                new_payment, monthly_savings, total_interest_savings, closing_costs, break_even_months, net_benefit,
                is_arm, seasoning_ok, attention_reason, created_at, updated_at, matched_spread, matched_threshold,
                matched_rule)
            VALUES (%s, %s, %s, %s, %s, 'fha', 'new', true, now(), now(), 'OBMMIFHA30YF', 6.0, CURRENT_DATE, 7.5, 1.5,
                    0.5, 320, 290000, 2097.64, 1800, 999999.99, 9999999.99, 4400, 1, 9000000, false, true, '',
                    now(), now(), 1.5, 0.5, 'flat')
            """,
            [other.pk, other_loan, other_borrower, other_officer.pk, other_branch.pk],
        )
        t = step("other organization", t)
    # What autovacuum does after a bulk load: statistics and the visibility map.
    connection.ensure_connection()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        t = step("VACUUM ANALYZE", t)
        cur.execute("SELECT count(*) FROM loans_loan")
        loans = cur.fetchone()[0]
        cur.execute("SELECT count(*), count(*) FILTER (WHERE stage = ANY(%s)) FROM pipeline_opportunity", [list(OPEN)])
        opps, open_opps = cur.fetchone()
    print(f"  {loans:,} loans, {opps:,} opportunities ({open_opps:,} open)", flush=True)


OPEN = ("new", "contacted", "engaged", "appointment", "application")

SCENARIOS = [
    ("first page", {}),
    (
        "FHA, ≥ $200/month, sorted by monthly savings",
        {"product_type": "fha", "min_savings": "200", "sort": "-monthly_savings"},
    ),
]


def measure(requests: int) -> list[tuple[str, str, float, float, int]]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    User = get_user_model()
    users = [("loan officer", "lo0000"), ("branch manager", "manager"), ("org admin", "admin")]
    results = []
    for role, username in users:
        client = Client()
        client.force_login(User.objects.get(username=username))
        for label, params in SCENARIOS:
            for _ in range(3):  # warm caches and connections
                response = client.get("/board/", params)
                assert response.status_code == 200, response.status_code
            with CaptureQueriesContext(connection) as ctx:
                client.get("/board/", params)
            queries = len(ctx.captured_queries)
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get("/board/", params)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            rows = len(response.context["table"].page.object_list) if response.context else 25
            assert b"OTHER-1" not in response.content
            timings.sort()
            p95 = timings[min(len(timings) - 1, int(round(0.95 * len(timings))) - 1)]
            results.append((role, label, statistics.median(timings), p95, queries))
            print(
                f"  {role:15} {label:48} median {statistics.median(timings):6.1f} ms  p95 {p95:6.1f} ms"
                f"  ({queries} queries, {rows} rows)",
                flush=True,
            )
    return results


def explain() -> None:
    """PostgreSQL's plans of the page query for the org admin (the widest scope), for the README."""
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    from pipeline.filters import OpportunityBoardFilterSet
    from pipeline.selectors.board import board_list

    admin = get_user_model().objects.get(username="admin")
    for label, params in SCENARIOS:
        request = RequestFactory().get("/board/", params)
        request.user = admin
        filterset = OpportunityBoardFilterSet(request.GET, queryset=board_list(user=admin), request=request)
        qs = filterset.qs
        if "sort" in params:
            qs = qs.order_by("-monthly_savings", "-pk")
        plan = qs[:26].explain(analyze=True, costs=False)
        print(f"\n  org admin, {label}:\n    " + "\n    ".join(plan.splitlines()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the benchmark database")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per scenario (default 30)")
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    needs_data = ensure_database(database_url, rebuild=args.rebuild)
    configure(database_url)
    if needs_data:
        build()
    print(f"Board, {args.requests} requests per scenario (server time in process):", flush=True)
    measure(args.requests)
    explain()


if __name__ == "__main__":
    main()
