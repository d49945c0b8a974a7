"""Time the daily match on a synthetic portfolio of N loans, on the configured database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/refiapp_bench .venv/bin/python bench/match.py --loans 1000000

Builds (or reuses) the "bench" organization with N loans (``generate_series`` on PostgreSQL, ``bulk_create`` on
SQLite), runs the match twice (new run: every opportunity is created; rerun: nothing changes), prints seconds
and the peak RSS of this process, then times the board query (top 50 open opportunities of one loan officer,
through the ORM) and prints its plan. Use a database of its own: the bench organization is rebuilt at will.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refiapp.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402

from core.models import Branch, LoanOfficer, Organization  # noqa: E402
from loans.models import Borrower, Loan  # noqa: E402
from pipeline.models import Activity, MatchRun, Opportunity  # noqa: E402
from pipeline.services.matching import match_organization  # noqa: E402
from rates.defaults import MAPPINGS, SERIES  # noqa: E402
from rates.models import RateObservation, RateSeries, SeriesMapping  # noqa: E402

AS_OF = dt.date(2026, 11, 20)
RATES = {
    "OBMMIC30YF": "6.125",
    "OBMMIC15YF": "5.500",
    "OBMMIJUMBO30YF": "6.250",
    "OBMMIFHA30YF": "5.875",
    "OBMMIVA30YF": "5.750",
    "OBMMIUSDA30YF": "6.000",
    "MORTGAGE30US": "6.220",
    "MORTGAGE15US": "5.440",
}
OFFICERS = 200
BRANCHES = 10


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup_org() -> tuple[Organization, list[LoanOfficer]]:
    from django.contrib.auth import get_user_model

    org, _ = Organization.objects.get_or_create(
        slug="bench", defaults={"name": "Bench Lender", "postal_address": "1 Bench Way, Springfield, IL 62701"}
    )
    branches = [Branch.objects.get_or_create(organization=org, name=f"Bench branch {b}")[0] for b in range(BRANCHES)]
    officers = []
    for i in range(OFFICERS):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-lo-{i}")
        officer, _ = LoanOfficer.objects.get_or_create(
            user=user,
            defaults={
                "organization": org,
                "branch": branches[i % BRANCHES],
                "display_name": f"Bench Officer {i}",
                "email": f"lo{i}@bench.example.com",
            },
        )
        officers.append(officer)
    for code, (title, product, term, frequency) in SERIES.items():
        series, _ = RateSeries.objects.get_or_create(
            code=code,
            organization=None,
            defaults={"title": title, "product_type": product, "term_months": term, "frequency": frequency},
        )
        RateObservation.objects.update_or_create(
            series=series, date=AS_OF - dt.timedelta(days=1), defaults={"rate": Decimal(RATES[code])}
        )
    for (product, term), (code, fallback) in MAPPINGS.items():
        SeriesMapping.objects.update_or_create(
            organization=org,
            product_type=product,
            term_months=term,
            defaults={
                "series": RateSeries.objects.get(code=code, organization=None),
                "fallback_series": RateSeries.objects.get(code=fallback, organization=None),
            },
        )
    return org, officers


def clear_matches(org: Organization) -> None:
    """Remove the bench organization's opportunities, so the next run is a first run on a clean table."""
    tables = (Activity._meta.db_table, Opportunity._meta.db_table, MatchRun._meta.db_table)
    others = (
        Opportunity.objects.exclude(organization=org).exists() or Activity.objects.exclude(organization=org).exists()
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not others:
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            return
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [org.pk])


def build_portfolio(org: Organization, officers: list[LoanOfficer], n: int) -> None:
    clear_matches(org)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM loans_loan WHERE organization_id = %s", [org.pk])
        cursor.execute("DELETE FROM loans_borrower WHERE organization_id = %s", [org.pk])
    if connection.vendor == "postgresql":
        build_postgresql(org, officers, n)
    else:
        build_bulk(org, officers, n)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # A production table is vacuumed: set hint bits and the visibility map before timing.
            cursor.execute("VACUUM ANALYZE loans_loan")
            cursor.execute("VACUUM ANALYZE loans_borrower")


def build_postgresql(org: Organization, officers: list[LoanOfficer], n: int) -> None:
    """One INSERT … SELECT over generate_series for borrowers and loans together; deterministic (setseed)."""
    first_officer = min(o.pk for o in officers)
    branch_of = {o.pk: o.branch_id for o in officers}
    assert sorted(branch_of) == list(range(first_officer, first_officer + OFFICERS)), "officer ids not contiguous"
    branch_case = " ".join(f"WHEN {pk} THEN {branch}" for pk, branch in branch_of.items())
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            f"""
            WITH g AS (
                SELECT i, random() AS u1, random() AS u2, random() AS u3, random() AS u4, random() AS u5,
                       random() AS u6, random() AS u7
                FROM generate_series(1, %(n)s) AS i
            ), dated AS (
                SELECT g.*, DATE '2015-01-01' + (u1 * 4160)::int AS note_date FROM g
            ), b AS (
                INSERT INTO loans_borrower (organization_id, first_name, last_name, email, mobile_phone,
                    mailing_state, mailing_zip, timezone, email_consent, sms_consent, sms_consent_source,
                    do_not_contact, email_undeliverable_reason, sms_undeliverable_reason, created_at, updated_at)
                SELECT %(org)s, 'Borrower', 'B' || i, 'b' || i || '@bench.example.com', '', 'IL', '', '', TRUE, FALSE,
                       '', FALSE, '', '', now(), now()
                FROM generate_series(1, %(n)s) AS i
                RETURNING id, CAST(substr(last_name, 2) AS integer) AS i
            )
            INSERT INTO loans_loan (organization_id, loan_number, mers_min, borrower_id, loan_officer_id, branch_id,
                product_type, amortization, purpose, lien_position, occupancy, original_amount, note_rate,
                term_months, note_date, first_payment_date, current_upb, upb_as_of, property_street,
                property_city, property_state, property_zip, property_county_fips,
                days_past_due, status, source, created_at, updated_at)
            SELECT %(org)s, 'BENCH' || lpad(d.i::text, 9, '0'), '', b.id,
                   {first_officer} + (d.i %% {OFFICERS}),
                   CASE {first_officer} + (d.i %% {OFFICERS}) {branch_case} END,
                   CASE WHEN u2 < 0.70 THEN 'conforming' WHEN u2 < 0.78 THEN 'jumbo' WHEN u2 < 0.90 THEN 'fha'
                        WHEN u2 < 0.97 THEN 'va' ELSE 'usda' END,
                   CASE WHEN u3 < 0.05 THEN 'arm' ELSE 'fixed' END,
                   CASE WHEN u3 < 0.80 THEN 'purchase' WHEN u3 < 0.95 THEN 'rate_term_refi' ELSE 'cash_out_refi' END,
                   CASE WHEN u4 < 0.98 THEN 'first' ELSE 'second' END,
                   'primary',
                   round((60000 + u5 * 840000)::numeric, -2),
                   round((CASE WHEN note_date < DATE '2020-01-01' THEN 4.0
                               WHEN note_date < DATE '2022-03-01' THEN 3.0
                               WHEN note_date < DATE '2023-01-01' THEN 5.5
                               WHEN note_date < DATE '2025-01-01' THEN 7.0
                               ELSE 6.6 END + (u6 - 0.5) * 1.5)::numeric * 8) / 8,
                   CASE WHEN u7 < 0.15 THEN 180 ELSE 360 END,
                   note_date,
                   (date_trunc('month', note_date) + INTERVAL '2 months')::date,
                   CASE WHEN u4 < 0.10 THEN round((60000 + u5 * 840000)::numeric * 0.9, 2) END,
                   CASE WHEN u4 < 0.10 THEN DATE '2026-09-30' END,
                   '', '', 'IL', '',
                   CASE WHEN u1 < 0.10 THEN '06037' WHEN u1 < 0.40 THEN '17031' ELSE '' END,
                   CASE WHEN u4 > 0.99 THEN 30 ELSE 0 END,
                   CASE WHEN u7 > 0.97 THEN 'paid_off' ELSE 'active' END,
                   'demo', now(), now()
            FROM dated d JOIN b ON b.i = d.i
            """,
            {"n": n, "org": org.pk},
        )


def build_bulk(org: Organization, officers: list[LoanOfficer], n: int) -> None:
    rng = random.Random(42)
    batch = 5000
    for start in range(0, n, batch):
        size = min(batch, n - start)
        with transaction.atomic():
            borrowers = Borrower.objects.bulk_create(
                [Borrower(organization=org, first_name="Borrower", last_name=f"B{start + k}") for k in range(size)]
            )
            loans = []
            for k, borrower in enumerate(borrowers):
                i = start + k
                officer = officers[i % OFFICERS]
                note_date = dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.random() * 4160))
                base = (
                    4.0
                    if note_date < dt.date(2020, 1, 1)
                    else 3.0
                    if note_date < dt.date(2022, 3, 1)
                    else 5.5
                    if note_date < dt.date(2023, 1, 1)
                    else 7.0
                    if note_date < dt.date(2025, 1, 1)
                    else 6.6
                )
                note_rate = Decimal(round((base + (rng.random() - 0.5) * 1.5) * 8) / 8).quantize(Decimal("0.001"))
                first = (note_date.replace(day=1) + dt.timedelta(days=62)).replace(day=1)
                u = rng.random()
                amount = Decimal(round(60000 + rng.random() * 840000, -2)).quantize(Decimal("0.01"))
                loans.append(
                    Loan(
                        organization=org,
                        loan_number=f"BENCH{i:09d}",
                        borrower=borrower,
                        loan_officer=officer,
                        branch_id=officer.branch_id,
                        product_type=rng.choices(["conforming", "jumbo", "fha", "va", "usda"], [70, 8, 12, 7, 3])[0],
                        amortization="arm" if u < 0.05 else "fixed",
                        purpose="purchase" if u < 0.80 else "rate_term_refi",
                        original_amount=amount,
                        note_rate=note_rate,
                        term_months=180 if rng.random() < 0.15 else 360,
                        note_date=note_date,
                        first_payment_date=first,
                        status="paid_off" if rng.random() > 0.97 else "active",
                        source="demo",
                    )
                )
            Loan.objects.bulk_create(loans)


def timed_match(org: Organization, label: str) -> MatchRun:
    started = time.perf_counter()
    run = match_organization(organization=org, as_of=AS_OF)
    seconds = time.perf_counter() - started
    print(
        f"{label:>8}: {seconds:6.2f} s  considered {run.considered:,}  matched {run.matched:,}  new {run.created:,}"
        f"  updated {run.updated:,}  no longer qualifying {run.expired:,}  peak RSS {peak_rss_mb():.0f} MB"
    )
    return run


def board_query(officer: LoanOfficer) -> None:
    qs = Opportunity.objects.open().filter(loan_officer=officer).order_by("-total_interest_savings", "id")[:50]
    list(qs)  # warm
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        rows = list(qs.all())
        timings.append(time.perf_counter() - started)
    timings.sort()
    print(
        f"   board: top 50 of one officer ({len(rows)} rows): median {timings[10] * 1000:.2f} ms, best "
        f"{timings[0] * 1000:.2f} ms (ORM, 20 runs)"
    )
    print("   plan:", qs.explain().replace("\n", "\n         "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the portfolio even if it has N loans")
    args = parser.parse_args()

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    call_command("migrate", verbosity=0)
    org, officers = setup_org()
    existing = Loan.objects.filter(organization=org).count()
    if args.rebuild or existing != args.loans:
        started = time.perf_counter()
        build_portfolio(org, officers, args.loans)
        print(f"   built {args.loans:,} loans in {time.perf_counter() - started:.1f} s")
    else:
        clear_matches(org)
        print(f"   reusing {existing:,} loans (opportunities cleared)")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE pipeline_opportunity")
    timed_match(org, "new run")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE pipeline_opportunity")
    timed_match(org, "rerun")
    busiest = (
        Opportunity.objects.open()
        .filter(organization=org)
        .values("loan_officer")
        .order_by()
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    board_query(LoanOfficer.objects.get(pk=busiest["loan_officer"] if busiest else officers[0].pk))
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
