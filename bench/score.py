"""Time the nightly scoring (one UPDATE per organization) on N synthetic open opportunities (PostgreSQL).

    DATABASE_URL=postgres://…/refiapp_bench .venv/bin/python bench/score.py --opportunities 1000000

Reuses bench/match.py's "bench" organization and loan book (N loans; built if the count differs), gives every
loan a property value and a state, makes every active loan an open opportunity with plausible figures (one
INSERT … SELECT), adds ~0.6 timeline entries per opportunity (sends, opens, clicks, replies) and loads the shipped
FHFA indexes. The book is dated two days back (loans, opportunities and timeline written before tonight, as in
production). Then it times the scoring three times with the active model (prior weights): the first run (no
previous run: every opportunity computed and written), the rerun (nothing changed: only the changed
opportunities are computed, none), and the next night (a day later: the loans whose age turned a month and the
engagement that left the 90-day window), with a VACUUM (not timed) after a run that rewrote most of the table, as
autovacuum would. Use a database of its own: the bench organization is rebuilt at will.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import match as bench_match  # noqa: E402  (bench/match.py: django.setup() and the bench book)
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from loans.models import Loan  # noqa: E402
from pipeline.models import Activity, Opportunity  # noqa: E402
from scoring.models import ScoringRun  # noqa: E402
from scoring.services.hpi import hpi_ensure_loaded  # noqa: E402
from scoring.services.scores import WRITTEN, opportunities_score  # noqa: E402

STATES = ["IL", "WI", "IN", "MI", "MO", "MN", "IA", "TX", "FL", "AZ", "CA", "NY", "OH", "GA", "NC", "WA"]


def prepare(org, n: int) -> None:  # type: ignore[no-untyped-def]
    states = "ARRAY[" + ", ".join(f"'{s}'" for s in STATES) + "]"
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.17)")
        cursor.execute(
            f"""UPDATE {Loan._meta.db_table}
                   SET property_value = round(original_amount / (0.55 + random() * 0.42)::numeric, -3),
                       property_value_date = note_date,
                       property_state = ({states})[1 + floor(random() * {len(STATES)})::int],
                       credit_score = 620 + floor(random() * 200)::int
                 WHERE organization_id = %s""",
            [org.pk],
        )
        cursor.execute(f"DELETE FROM {ScoringRun._meta.db_table} WHERE organization_id = %s", [org.pk])
        cursor.execute(f"DELETE FROM {Activity._meta.db_table} WHERE organization_id = %s", [org.pk])
        cursor.execute(f"DELETE FROM {Opportunity._meta.db_table} WHERE organization_id = %s", [org.pk])
        cursor.execute(
            f"""INSERT INTO {Opportunity._meta.db_table} (organization_id, loan_id, borrower_id, loan_officer_id,
                    branch_id, product_type, stage, qualifies, first_matched_at, last_matched_at, market_series,
                    market_rate, market_rate_date, note_rate, spread, threshold, remaining_months, current_balance,
                    current_payment, new_payment, monthly_savings, total_interest_savings, closing_costs,
                    break_even_months, net_benefit, is_arm, seasoning_ok, matched_spread, matched_threshold,
                    matched_rule, attention_reason, rate_is_current, created_at, updated_at)
                SELECT l.organization_id, l.id, l.borrower_id, l.loan_officer_id, l.branch_id, l.product_type,
                       (ARRAY['new', 'new', 'new', 'contacted', 'engaged'])[1 + floor(random() * 5)::int],
                       TRUE, now() - interval '20 days', now(), 'OBMMIC30YF', 6.125, DATE '2026-11-20',
                       l.note_rate, l.note_rate - 6.125, 0.625, 300, round(l.original_amount * 0.93, 2),
                       2500, 2300, round((50 + random() * 600)::numeric, 2),
                       round((5000 + random() * 120000)::numeric, 2), 5000, 20, 40000, FALSE, TRUE,
                       l.note_rate - 6.125, 0.625, 'flat', '', FALSE, now(), now()
                  FROM {Loan._meta.db_table} l
                 WHERE l.organization_id = %s AND l.status = 'active'
                 LIMIT %s""",
            [org.pk, n],
        )
        cursor.execute(
            f"""INSERT INTO {Activity._meta.db_table} (organization_id, opportunity_id, borrower_id, kind, channel,
                    from_stage, to_stage, body, data, occurred_at, created_at)
                SELECT o.organization_id, o.id, o.borrower_id,
                       (ARRAY['sent', 'sent', 'opened', 'clicked', 'replied'])[1 + floor(random() * 5)::int],
                       'email', '', '', '', '{{}}'::jsonb, now() - random() * interval '60 days', now()
                  FROM {Opportunity._meta.db_table} o
                 WHERE o.organization_id = %s AND random() < 0.6""",
            [org.pk],
        )
    backdate(org)
    vacuum()
    hpi_ensure_loaded()
    print(f"prepared in {time.monotonic() - started:.1f} s")


def backdate(org) -> None:  # type: ignore[no-untyped-def]
    """The book was written before tonight: no loan, opportunity or timeline entry stamped in the last two days."""
    with connection.cursor() as cursor:
        for table, column in (
            (Loan._meta.db_table, "updated_at"),
            (Opportunity._meta.db_table, "updated_at"),
            (Activity._meta.db_table, "created_at"),
        ):
            cursor.execute(
                f"""UPDATE {table} SET {column} = now() - interval '2 days'
                     WHERE organization_id = %s AND {column} > now() - interval '2 days'""",
                [org.pk],
            )


def vacuum() -> None:
    """As in production (autovacuum): hint bits and the visibility map set, dead rows gone, statistics fresh."""
    for table in (Loan._meta.db_table, Opportunity._meta.db_table, Activity._meta.db_table):
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")


def clear_scores(org) -> None:  # type: ignore[no-untyped-def]
    """Forget the written scores and figures and the previous runs, so the next run computes and writes every
    opportunity again."""
    Opportunity.objects.filter(organization=org).update(**dict.fromkeys(WRITTEN))
    ScoringRun.objects.filter(organization=org).delete()
    backdate(org)
    vacuum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument(
        "--reuse", action="store_true", help="Score the opportunities already there (their scores cleared first)."
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/score.py needs PostgreSQL (DATABASE_URL).")
    org, officers = bench_match.setup_org()
    loans = Loan.objects.filter(organization=org, status="active").count()
    if loans < args.opportunities:
        total = int(args.opportunities / 0.97) + 1000  # bench/match.py marks ~3 % paid off
        print(f"building {total:,} loans …")
        bench_match.build_portfolio(org, officers, total)
    if args.reuse:
        clear_scores(org)
    else:
        prepare(org, args.opportunities)
    open_count = Opportunity.objects.filter(organization=org).count()
    activities = Activity.objects.filter(organization=org).count()
    print(f"{open_count:,} open opportunities, {activities:,} timeline entries")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), pg_relation_size(%s) / 8192", [Opportunity._meta.db_table]
        )
        version, pages = cursor.fetchone()
    print(f"PostgreSQL {version}, opportunity table {pages:,} pages; load average {os.getloadavg()[0]:.1f}")
    tonight = timezone.now()
    for label, now in (("first run", tonight), ("rerun", tonight), ("next night", tonight + dt.timedelta(days=1))):
        started = time.monotonic()
        run = opportunities_score(organization=org, now=now)
        seconds = time.monotonic() - started
        print(
            f"{label}: {seconds:.2f} s — {'full' if run.full else 'changed only'}, scored {run.scored:,}, "
            f"written {run.changed:,}; load {os.getloadavg()[0]:.1f}"
        )
        if run.changed > open_count // 5:
            # Autovacuum's turn after a rewrite of most of the table (this bench's server may run without it):
            # without it the next night's updates found no room on their pages and went to all twelve indexes.
            vacuum()
    scored = Opportunity.objects.filter(organization=org, score__isnull=False).count()
    valued = Opportunity.objects.filter(organization=org, estimated_value_quarter__isnull=False).count()
    print(f"{scored:,} with a score, {valued:,} marked to market; peak RSS {bench_match.peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
