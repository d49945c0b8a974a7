"""Benchmark: the reports page for an organization with 1,000,000 loans and 2,000,000 activities (PostgreSQL).

    .venv/bin/python bench/report.py            # build the data once (a few minutes), then time
    .venv/bin/python bench/report.py --rebuild  # drop and build the data again

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/refiapp_bench_reports),
built with generate_series: 1 organization (America/Chicago), 20 branches, 200 loan officers, 20 branch managers,
1 org admin, 1,000,000 borrowers and loans, 200,000 opportunities first matched over the last 365 days and
2,000,000 timeline activities (10 per opportunity: matched, email sent/delivered/opened, SMS sent/delivered,
clicked, replied, appointment, then application/won/lost), stored in the order they happened as an append-only
timeline is. Times ``report_build`` (all the page's queries) and
the whole page through the Django test client, in-process, and prints the median of the runs in milliseconds.
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
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/refiapp_bench_reports"
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DEBUG", "1")  # plain static files storage (no collectstatic manifest needed)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refiapp.settings")

LOANS = 1_000_000
OPPORTUNITIES = 200_000
ACTIVITIES_PER_OPPORTUNITY = 10
OFFICERS = 200
BRANCHES = 20

# Indexes the reports rely on that the loans app does not declare yet. The bench creates them (IF NOT EXISTS, so
# it is a no-op once a loans migration adds them under the same name).
REPORT_INDEXES = {
    # Report cohort and "opportunities identified": opportunities first matched in a period, per organization.
    "pipeline_opp_report_idx": (
        "CREATE INDEX IF NOT EXISTS pipeline_opp_report_idx ON pipeline_opportunity (organization_id, first_matched_at)"
    ),
}

BUILD_SQL = [
    # Organization, branches, users, staff.
    """INSERT INTO core_organization (id, name, slug, nmls_id, postal_address, timezone, staleness_days, matching_rule,
           auto_enroll, revenue_per_loan, closing_cost_fixed, closing_cost_percent, created_at)
       VALUES (1, 'Bench Lending', 'bench', '1', '1 Main St, Springfield, IL 62701', 'America/Chicago', 7, 'flat',
           false, 4000.00, 1500.00, 1.000, now())""",
    """INSERT INTO core_branch (id, organization_id, name, code, nmls_id)
       SELECT b, 1, 'Branch ' || b, 'B' || b, '' FROM generate_series(1, {branches}) b""",
    """INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
           date_joined)
       SELECT u, '!', false, 'user' || u, '', '', 'user' || u || '@bench.test', false, true, now()
       FROM generate_series(1, {officers} + {branches} + 1) u""",
    """INSERT INTO core_loanofficer (id, user_id, organization_id, branch_id, role, display_name, nmls_id, email,
           phone, scheduling_url, is_active)
       SELECT u, u, 1,
              CASE WHEN u <= {officers} THEN (u % {branches}) + 1
                   WHEN u <= {officers} + {branches} THEN u - {officers} END,
              CASE WHEN u <= {officers} THEN 'loan_officer'
                   WHEN u <= {officers} + {branches} THEN 'branch_manager' ELSE 'org_admin' END,
              'Officer ' || u, '', 'user' || u || '@bench.test', '', '', true
       FROM generate_series(1, {officers} + {branches} + 1) u""",
    # Borrowers and loans.
    """INSERT INTO loans_borrower (id, organization_id, first_name, last_name, email, mobile_phone, mailing_state,
           timezone, email_consent, sms_consent, sms_consent_source, do_not_contact, email_undeliverable_reason,
           sms_undeliverable_reason, created_at, updated_at)
       SELECT b, 1, 'First', 'Last ' || b, 'b' || b || '@mail.test', '', 'IL', 'America/Chicago', true, false, '',
              false, '', '', now(), now()
       FROM generate_series(1, {loans}) b""",
    """INSERT INTO loans_loan (id, organization_id, borrower_id, loan_officer_id, branch_id, loan_number, mers_min,
           product_type, amortization, purpose, lien_position, occupancy, original_amount, note_rate, term_months,
           note_date, first_payment_date, property_street, property_city, property_state, property_zip,
           days_past_due, status, source, created_at, updated_at)
       SELECT l, 1, l, (l % {officers}) + 1, ((l % {officers}) % {branches}) + 1, 'LN' || l, '', 'conforming',
              'fixed', 'purchase', 'first', 'primary', 400000.00, 7.250, 360, DATE '2023-10-16', DATE '2023-12-01',
              '', '', 'IL', '', 0, 'active', 'manual', now(), now()
       FROM generate_series(1, {loans}) l""",
    """INSERT INTO pipeline_matchrun (id, organization_id, as_of, status, trigger, rule, rates_used, considered,
           matched,
           created, updated, expired, started_at, error)
       VALUES (1, 1, current_date, 'succeeded', 'schedule', 'flat', '{{}}', 0, 0, 0, 0, 0, now(), ''),
              (2, 1, current_date, 'succeeded', 'schedule', 'optimal', '{{}}', 0, 0, 0, 0, 0, now(), '')""",
    # Opportunities: every 5th loan, first matched over the last 365 days.
    """INSERT INTO pipeline_opportunity (id, organization_id, loan_id, borrower_id, loan_officer_id, branch_id,
           product_type, stage, qualifies, first_matched_at, last_matched_at, match_run_id, market_series, market_rate,
           market_rate_date, note_rate, spread, threshold, optimal_threshold, remaining_months, current_balance,
           current_payment, new_payment, monthly_savings, total_interest_savings, closing_costs, break_even_months,
           net_benefit, is_arm, seasoning_ok, attention_reason, created_at, updated_at, matched_spread,
           matched_threshold, matched_rule)
       SELECT o, 1, o * 5, o * 5, ((o * 5) % {officers}) + 1, (((o * 5) % {officers}) % {branches}) + 1,
              'conforming', (ARRAY['new','contacted','engaged','appointment','application','won','lost'])[(o % 7) + 1],
              true, now() - make_interval(secs => ({opportunities} - o) * (365 * 86400.0 / {opportunities})),
              now() - make_interval(secs => ({opportunities} - o) * (365 * 86400.0 / {opportunities})),
              CASE WHEN o % 10 = 0 THEN 2 ELSE 1 END, 'OBMMIC30YF', 6.125, current_date, 7.250,
              round((0.40 + ((o * 37) % 170) / 100.0)::numeric, 3), 0.625, 1.020, 324, 387493.18, 2728.71, 2448.23,
              280.48, 90875.52, 5374.93, 20, 85500.59, false, true, '', now(), now(),
              round((0.40 + ((o * 37) % 170) / 100.0)::numeric, 3), 0.625,
              CASE WHEN o % 10 = 0 THEN 'optimal' ELSE 'flat' END
       FROM generate_series(1, {opportunities}) o""",
    # Ten timeline entries per opportunity.
    """INSERT INTO pipeline_activity (organization_id, opportunity_id, borrower_id, kind, channel, from_stage, to_stage,
           body, data, occurred_at, created_at)
       SELECT 1, o.id, o.borrower_id,
              (ARRAY['matched','sent','delivered','opened','sent','delivered','clicked','replied','stage_change',
                     'stage_change'])[n],
              CASE WHEN n IN (2, 3, 4, 7) THEN 'email' WHEN n IN (5, 6, 8) THEN 'sms' ELSE '' END,
              CASE n WHEN 9 THEN 'contacted' WHEN 10 THEN 'appointment' ELSE '' END,
              CASE n WHEN 9 THEN 'appointment'
                     WHEN 10 THEN (ARRAY['application','won','lost'])[(o.id % 3) + 1] ELSE '' END,
              '', '{{}}', o.first_matched_at + make_interval(hours => ((n - 1) * (1 + o.id % 23))::int), now()
       FROM pipeline_opportunity o CROSS JOIN generate_series(1, {per_opportunity}) n
       ORDER BY 10""",
    "SELECT setval(pg_get_serial_sequence('pipeline_activity', 'id'), (SELECT max(id) FROM pipeline_activity))",
    # The one index the reports need beyond the models' own (see REPORT_INDEXES).
    *REPORT_INDEXES.values(),
    "VACUUM ANALYZE",
]


def build() -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    params = {
        "loans": LOANS,
        "opportunities": OPPORTUNITIES,
        "per_opportunity": ACTIVITIES_PER_OPPORTUNITY,
        "officers": OFFICERS,
        "branches": BRANCHES,
    }
    with connection.cursor() as cursor:
        for statement in BUILD_SQL:
            started = time.perf_counter()
            cursor.execute(statement.format(**params))
            print(f"  {' '.join(statement.split()[:3])[:40]}: {time.perf_counter() - started:.1f} s", flush=True)


def ensure_database(rebuild: bool) -> None:
    import psycopg

    url = os.environ["DATABASE_URL"]
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and rebuild:
            admin.execute(f'DROP DATABASE "{name}"')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from pipeline.models import Activity

    if rebuild or not exists or not Activity.objects.exists():
        print(f"Building the benchmark data in {name} ...", flush=True)
        build()
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in REPORT_INDEXES.values():
            cursor.execute(statement)


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    fn()  # warm the caches and the connection
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ensure_database(args.rebuild)

    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from core.models import LoanOfficer
    from loans.models import Loan
    from pipeline.models import Activity, Opportunity
    from reports.periods import preset_period
    from reports.selectors import report_build

    print(
        f"Data: {Loan.objects.count():,} loans, {Opportunity.objects.count():,} opportunities, "
        f"{Activity.objects.count():,} activities ({connection.vendor})"
    )
    admin = LoanOfficer.objects.get(role=LoanOfficer.Role.ORG_ADMIN)
    manager = LoanOfficer.objects.filter(role=LoanOfficer.Role.BRANCH_MANAGER).order_by("pk").first()
    officer = LoanOfficer.objects.filter(role=LoanOfficer.Role.LOAN_OFFICER).order_by("pk").first()
    now = timezone.now()
    client = Client()
    client.force_login(admin.user)

    rows = []
    for label, user, preset in (
        ("org admin, last 7 days", admin.user, "7d"),
        ("branch manager, last 7 days", manager.user, "7d"),
        ("loan officer, last 7 days", officer.user, "7d"),
        ("org admin, last 4 weeks", admin.user, "4w"),
        ("org admin, last quarter", admin.user, "quarter"),
    ):
        period = preset_period(preset, timezone=admin.organization.timezone, now=now)
        runs = timed(lambda user=user, period=period: report_build(user=user, period=period), args.runs)
        rows.append((f"report_build — {label}", runs))

    def page() -> None:
        response = client.get("/reports/")
        assert response.status_code == 200, response.status_code

    rows.append(("GET /reports/ (whole page) — org admin, last 7 days", timed(page, args.runs)))
    for label, runs in rows:
        print(f"{label:<58} median {statistics.median(runs):8.1f} ms   (min {min(runs):.1f}, max {max(runs):.1f})")


if __name__ == "__main__":
    main()
