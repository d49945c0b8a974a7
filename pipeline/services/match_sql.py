"""The statements of the daily match, for PostgreSQL and SQLite; a few set-based statements, no loop over loans:

1. ``CREATE TEMP TABLE`` of the loans that qualify today, with every figure of the opportunity computed in SQL
   (the same formulas, rounding and order as ``loans.finance``) and the id of the loan's open opportunity;
2. ``INSERT … SELECT … ON CONFLICT DO NOTHING`` of new opportunities (the partial unique index allows one open
   opportunity per loan);
3. ``UPDATE … FROM`` of the open opportunities whose figures changed (``IS DISTINCT FROM`` on every column, so a
   rerun on the same data touches no row and ``updated_at`` stays);
4. ``UPDATE`` of the open opportunities whose loan no longer qualifies: ``qualifies = false`` and
   ``disqualified_at``; stage, enrollment and figures are kept (rates can bounce back);
5. ``INSERT … SELECT`` of the timeline entries (Activity ``matched`` / ``requalified`` / ``disqualified``) for the
   rows that changed state, and nothing for the rest.

PostgreSQL computes money with exact ``numeric``; SQLite with doubles, and integer cents / thousandths of a
point wherever an exact half or an exact boundary can occur (closing costs, spread, break-even). The optimal
threshold x* (Agarwal, Driscoll & Laibson 2013) is computed per row in ``float8`` with the branch-point series
and the same three Halley steps as ``loans.finance.lambert_w0_neg_exp``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.utils import timezone

from core.models import Organization
from loans import finance
from loans.models import Loan
from loans.selectors.products import closing_cost_rules
from pipeline.models import Activity, MatchRun, Opportunity
from rates.selectors import MarketRate

OPEN_STAGES = tuple(Opportunity.OPEN_STAGES)
CLOSED_STAGES = tuple(s for s in Opportunity.Stage.values if s not in OPEN_STAGES)
MIN_REMAINING_MONTHS = 60  # a loan needs more than this many payments left
RECENT_REFINANCE_MONTHS = 24
CLOSED_COOL_OFF_DAYS = 90
WORK_TABLE = "refiapp_match_work"


@dataclass(frozen=True)
class FlatBand:
    """One row of the non-overlapping threshold table the SQL joins on."""

    product_type: str
    min_balance: Decimal
    max_balance: Decimal | None
    min_spread: Decimal


# The x* parameters (DESIGN §4): ρ, σ, μ, π, τ.
XSTAR = {"rho": 0.05, "sigma": 0.0109, "mu": 0.10, "pi": 0.03, "tau": 0.0}


def bucket_case() -> Case:
    return Case(When(term_months__lte=180, then=Value(180)), default=Value(360), output_field=IntegerField())


def active_by_product(organization: Organization) -> list[dict[str, Any]]:
    return list(
        Loan.objects.filter(organization=organization, status=Loan.Status.ACTIVE)
        .annotate(bucket=bucket_case())
        .values("product_type", "bucket")
        .annotate(n=Count("id"))
        .order_by()
    )


class MatchStatements:
    """Builds and runs the statements of one run on the default connection (PostgreSQL or SQLite)."""

    def __init__(
        self,
        *,
        organization: Organization,
        run: MatchRun,
        as_of: dt.date,
        rates: dict[tuple[str, int], MarketRate],
        bands: list[FlatBand],
        active: list[dict[str, Any]],
    ) -> None:
        self.org = organization
        self.run_obj = run
        self.as_of = as_of
        self.rates = rates
        self.costs = closing_cost_rules(organization=organization)
        self.bands = bands
        self.active = active  # active loans per (product_type, bucket): active_by_product()
        self.pg = connection.vendor == "postgresql"
        self.optimal = organization.matching_rule == Organization.MatchingRule.OPTIMAL
        ops = connection.ops
        now = timezone.now()
        cool_off = dt.timedelta(days=CLOSED_COOL_OFF_DAYS)
        self.params: dict[str, Any] = {
            "org": organization.pk,
            "run": run.pk,
            "rule": organization.matching_rule,
            "now": ops.adapt_datetimefield_value(now),
            "as_of": ops.adapt_datefield_value(as_of),
            "refi_cutoff": ops.adapt_datefield_value(as_of - relativedelta(months=RECENT_REFINANCE_MONTHS)),
            "cool_off": ops.adapt_datetimefield_value(now - cool_off),
            "season_cutoff": ops.adapt_datefield_value(as_of - dt.timedelta(days=finance.SEASONING_DAYS)),
            "ntb_drop": finance.NTB_MIN_RATE_DROP,
            "ntb_drop_m": int(finance.NTB_MIN_RATE_DROP * 1000),
            "va_recoup": finance.VA_IRRRL_MAX_RECOUPMENT_MONTHS,
            "season_payments": finance.SEASONING_PAYMENTS,
            "w_c3": 11.0 / 72.0,
            "w_c4": 43.0 / 540.0,
            "activity_data": json.dumps({"match_run": run.pk}),
            **{f"x_{k}": v for k, v in XSTAR.items()},
        }
        self.params["x_one_minus_tau"] = 1.0 - XSTAR["tau"]
        self.cooling = (
            Opportunity.objects.filter(organization=organization, stage__in=CLOSED_STAGES)
            .filter(
                Q(stage_changed_at__gt=now - cool_off) | Q(stage_changed_at__isnull=True, updated_at__gt=now - cool_off)
            )
            .exists()
        )
        # When every product/term with active loans is priced, "priced" needs no join on loans.
        self.all_priced = all((row["product_type"], row["bucket"]) in rates for row in active)
        spreads = [b.min_spread for b in bands]
        min_spread = Decimal(0) if self.optimal or not spreads else min(spreads)
        self.params["min_spread"] = min_spread
        self.params["min_spread_m"] = int(min_spread * 1000)

    # --- dialect helpers ------------------------------------------------------------------------------

    def _num(self, name: str) -> str:
        """A decimal parameter as the exact type of the dialect."""
        return f"CAST(%({name})s AS numeric)" if self.pg else f"CAST(%({name})s AS REAL)"

    def _ymd(self, col: str) -> tuple[str, str, str]:
        if self.pg:
            # date_part (float8) rather than EXTRACT, which returns numeric since PostgreSQL 14 and costs more.
            return tuple(f"CAST(date_part('{part}', {col}) AS integer)" for part in ("year", "month", "day"))  # type: ignore[return-value]
        return (
            f"CAST(substr({col}, 1, 4) AS INTEGER)",
            f"CAST(substr({col}, 6, 2) AS INTEGER)",
            f"CAST(substr({col}, 9, 2) AS INTEGER)",
        )

    def _greatest(self, *args: str) -> str:
        return f"{'GREATEST' if self.pg else 'MAX'}({', '.join(args)})"

    def _least(self, *args: str) -> str:
        return f"{'LEAST' if self.pg else 'MIN'}({', '.join(args)})"

    def _payments_made(self, first_payment: str, as_of: tuple[str, str, str], term: str) -> str:
        """finance.payments_made in SQL: payments due on or before the date, between 0 and the term."""
        fy, fm, fd = self._ymd(first_payment)
        ay, am, ad = as_of
        months = f"(({ay}) - {fy}) * 12 + (({am}) - {fm}) + CASE WHEN ({ad}) >= {fd} THEN 1 ELSE 0 END"
        return self._greatest("0", self._least(term, months))

    def _fence(self) -> str:
        """Keeps the planner from inlining a stage's columns into the next (each stage is computed once)."""
        return " OFFSET 0" if self.pg else " LIMIT -1 OFFSET 0"

    def _distinct(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}" if self.pg else f"{a} IS NOT {b}"

    def _true(self) -> str:
        return "TRUE" if self.pg else "1"

    def _false(self) -> str:
        return "FALSE" if self.pg else "0"

    def _in(self, values: tuple[str, ...]) -> str:
        return "(" + ", ".join(f"'{v}'" for v in values) + ")"  # trusted literals (stage names)

    # --- the CTEs of today's inputs --------------------------------------------------------------------

    def _inputs_cte(self) -> str:
        rows = []
        for i, ((product, term), mr) in enumerate(sorted(self.rates.items())):
            cc_fixed, cc_pct = self.costs.get(
                (product, term), (self.org.closing_cost_fixed, self.org.closing_cost_percent)
            )
            self.params.update(
                {
                    f"r{i}_pt": product,
                    f"r{i}_b": term,
                    f"r{i}_series": mr.series_code,
                    f"r{i}_date": connection.ops.adapt_datefield_value(mr.date),
                    f"r{i}_rate": mr.rate,
                    f"r{i}_rate_m": int(mr.rate * 1000),
                    f"r{i}_ccf": cc_fixed,
                    f"r{i}_ccp": cc_pct,
                    f"r{i}_ccf_c": int(cc_fixed * 100),
                    f"r{i}_ccp_m": int(cc_pct * 1000),
                }
            )
            date = f"CAST(%(r{i}_date)s AS date)" if self.pg else f"%(r{i}_date)s"
            rows.append(
                f"(%(r{i}_pt)s, CAST(%(r{i}_b)s AS integer), %(r{i}_series)s, {date}, {self._num(f'r{i}_rate')},"
                f" CAST(%(r{i}_rate_m)s AS integer), {self._num(f'r{i}_ccf')}, {self._num(f'r{i}_ccp')},"
                f" CAST(%(r{i}_ccf_c)s AS integer), CAST(%(r{i}_ccp_m)s AS integer))"
            )
        bands = []
        for i, band in enumerate(self.bands):
            self.params.update(
                {
                    f"b{i}_pt": band.product_type,
                    f"b{i}_lo": band.min_balance,
                    f"b{i}_hi": band.max_balance,
                    f"b{i}_spread": band.min_spread,
                    f"b{i}_spread_m": int(band.min_spread * 1000),
                }
            )
            bands.append(
                f"(%(b{i}_pt)s, {self._num(f'b{i}_lo')}, {self._num(f'b{i}_hi')}, {self._num(f'b{i}_spread')},"
                f" CAST(%(b{i}_spread_m)s AS integer))"
            )
        return (
            f"market(product_type, bucket, series, rate_date, rate, rate_m, cc_fixed, cc_pct, cc_fixed_c, cc_pct_m)"
            f" AS (VALUES {', '.join(rows)}),\n"
            f"bands(product_type, lo, hi, spread, spread_m) AS (VALUES {', '.join(bands)})"
        )

    # --- the qualifying loans, every figure computed ------------------------------------------------

    def _qualifying_select(self) -> str:
        pg, fence = self.pg, self._fence()
        as_of = self._ymd("%(as_of)s") if not pg else self._ymd("CAST(%(as_of)s AS date)")
        made = self._payments_made("l.first_payment_date", as_of, "l.term_months")
        made_upb = self._payments_made("l.first_payment_date", self._ymd("l.upb_as_of"), "l.term_months")
        bucket = "CASE WHEN l.term_months <= 180 THEN 180 ELSE 360 END"
        if pg:
            rate_old, rate_new = "l.note_rate / 1200", "m.rate / 1200"
        else:
            rate_old, rate_new = "CAST(l.note_rate AS REAL) / 1200.0", "CAST(m.rate AS REAL) / 1200.0"
        note_m = "l.note_rate" if pg else "CAST(round(l.note_rate * 1000) AS INTEGER)"
        spread_ok = "l.note_rate - m.rate >= %(min_spread)s" if pg else f"{note_m} - m.rate_m >= %(min_spread_m)s"
        # Loans whose last opportunity was closed recently get no new one (joined only when there are any).
        cooling_join = cooling_filter = ""
        if self.cooling:
            cooling_join = f"""LEFT JOIN (SELECT DISTINCT loan_id FROM pipeline_opportunity
                       WHERE organization_id = %(org)s AND stage IN {self._in(CLOSED_STAGES)}
                         AND COALESCE(stage_changed_at, updated_at) > %(cool_off)s) c ON c.loan_id = l.id"""
            cooling_filter = "AND (o.id IS NOT NULL OR c.loan_id IS NULL)"
        # Stage 1: the candidate book joined to today's rate of its product, with payments made.
        stage1 = f"""
            SELECT l.id AS loan_id, l.borrower_id, l.loan_officer_id, l.branch_id, l.product_type,
                   l.note_rate, l.term_months, l.original_amount, l.current_upb, l.first_payment_date,
                   (l.amortization = 'arm') AS is_arm,
                   m.series AS market_series, m.rate AS market_rate, m.rate_date AS market_rate_date, m.rate_m,
                   m.cc_fixed, m.cc_pct, m.cc_fixed_c, m.cc_pct_m,
                   o.id AS opp_id, o.qualifies AS old_qualifies,
                   {made} AS made,
                   CASE WHEN l.current_upb IS NULL THEN 0 WHEN l.upb_as_of IS NULL THEN -1 ELSE {made_upb} END
                       AS made_upb,
                   {rate_old} AS r_old, {rate_new} AS r_new
            FROM loans_loan l
            JOIN market m ON m.product_type = l.product_type AND m.bucket = {bucket}
            LEFT JOIN (SELECT id, loan_id, qualifies FROM pipeline_opportunity
                       WHERE organization_id = %(org)s AND stage IN {self._in(OPEN_STAGES)}) o ON o.loan_id = l.id
            {cooling_join}
            WHERE l.organization_id = %(org)s
              AND l.status = 'active' AND l.days_past_due = 0 AND l.lien_position = 'first'
              AND {spread_ok}
              AND NOT (l.note_date > %(refi_cutoff)s
                       AND (l.purpose <> 'purchase' OR l.refinanced_from_id IS NOT NULL))
              {cooling_filter}
        """
        # Stage 2: the growth factors (exact numeric powers on PostgreSQL).
        one = "1" if pg else "1.0"
        stage2 = f"""
            SELECT s.*, s.term_months - s.made AS remaining,
                   CASE WHEN s.current_upb IS NULL THEN s.made
                        WHEN s.made_upb < 0 THEN 0
                        ELSE {self._greatest("s.made - s.made_upb", "0")} END AS since,
                   power({one} + s.r_old, s.term_months) AS g_term,
                   power({one} + s.r_old, CASE WHEN s.current_upb IS NULL THEN s.made
                        WHEN s.made_upb < 0 THEN 0 ELSE {self._greatest("s.made - s.made_upb", "0")} END) AS g_since,
                   power({one} + s.r_new, s.term_months - s.made) AS g_new
            FROM stage1 s
            WHERE s.term_months - s.made > {MIN_REMAINING_MONTHS}{fence}
        """
        r2 = "round" if pg else "ROUND"
        # Stage 3: the loan's scheduled payment and today's balance (finance.payment / balance_as_of).
        pmt_old = (
            f"CASE WHEN s.r_old = 0 THEN {r2}(s.original_amount / s.term_months, 2)"
            f" ELSE {r2}(s.original_amount * s.r_old * s.g_term / (s.g_term - 1), 2) END"
        )
        if not pg:
            pmt_old = pmt_old.replace(
                "s.original_amount / s.term_months", "CAST(s.original_amount AS REAL) / s.term_months"
            )
        stage3 = f"""
            SELECT s.*, {pmt_old} AS current_payment
            FROM stage2 s{fence}
        """
        base = (
            "COALESCE(s.current_upb, s.original_amount)"
            if pg
            else "CAST(COALESCE(s.current_upb, s.original_amount) AS REAL)"
        )
        balance = f"""CASE WHEN s.since <= 0 THEN {base}
                      WHEN s.made >= s.term_months THEN 0
                      WHEN s.r_old = 0 THEN {self._greatest(f"{r2}({base} - s.current_payment * s.since, 2)", "0")}
                      ELSE {
            self._greatest(f"{r2}({base} * s.g_since - s.current_payment * (s.g_since - 1) / s.r_old, 2)", "0")
        } END"""
        stage4 = f"""
            SELECT s.*, {balance} AS current_balance
            FROM stage3 s{fence}
        """
        # Stage 5: today's payment on the same remaining months, savings, costs, threshold (finance.refinance_savings).
        new_pmt = (
            f"CASE WHEN s.current_balance <= 0 THEN 0"
            f" WHEN s.r_new = 0 THEN {r2}(s.current_balance / s.remaining, 2)"
            f" ELSE {r2}(s.current_balance * s.r_new * s.g_new / (s.g_new - 1), 2) END"
        )
        if not pg:
            new_pmt = new_pmt.replace(
                "s.current_balance / s.remaining", "CAST(s.current_balance AS REAL) / s.remaining"
            )
        stage5 = f"""
            SELECT s.*, {new_pmt} AS new_payment, b.spread AS threshold, b.spread_m AS threshold_m
            FROM stage4 s
            JOIN bands b ON b.product_type = s.product_type AND s.current_balance >= b.lo
                        AND (b.hi IS NULL OR s.current_balance < b.hi){fence}
        """
        if pg:
            figures = """
                s.current_payment - s.new_payment AS monthly_savings,
                (s.current_payment - s.new_payment) * s.remaining AS total_interest_savings,
                round(s.cc_fixed + s.current_balance * s.cc_pct / 100, 2) AS closing_costs,
                s.note_rate - s.market_rate AS spread"""
        else:
            figures = """
                CAST(round((s.current_payment - s.new_payment) * 100) AS INTEGER) AS monthly_c,
                s.cc_fixed_c + (CAST(round(s.current_balance * 100) AS INTEGER) * s.cc_pct_m + 50000) / 100000
                    AS costs_c,
                CAST(round(s.note_rate * 1000) AS INTEGER) - s.rate_m AS spread_m"""
        stage6 = f"SELECT s.*, {figures} FROM stage5 s{fence}"
        if pg:
            derived = """
                s.monthly_savings, s.total_interest_savings, s.closing_costs,
                CASE WHEN s.monthly_savings > 0 THEN CAST(ceil(s.closing_costs / s.monthly_savings) AS integer) END
                    AS break_even_months,
                s.total_interest_savings - s.closing_costs AS net_benefit, s.spread,
                (s.spread >= %(ntb_drop)s) AS drop_ok,
                (s.monthly_savings > 0 AND s.spread >= s.threshold) AS flat_ok"""
        else:
            derived = """
                s.monthly_c / 100.0 AS monthly_savings, s.monthly_c * s.remaining / 100.0 AS total_interest_savings,
                s.costs_c / 100.0 AS closing_costs,
                CASE WHEN s.monthly_c > 0 THEN (s.costs_c + s.monthly_c - 1) / s.monthly_c END AS break_even_months,
                (s.monthly_c * s.remaining - s.costs_c) / 100.0 AS net_benefit, s.spread_m / 1000.0 AS spread,
                (s.spread_m >= %(ntb_drop_m)s) AS drop_ok,
                (s.monthly_c > 0 AND s.spread_m >= s.threshold_m) AS flat_ok"""
        flt = "CAST({} AS double precision)" if pg else "CAST({} AS REAL)"
        # x* inputs (ADL 2013): λ, ψ, φ, then the branch-point series for W₀(−e^−φ).
        i0 = f"({flt.format('s.note_rate')} / 100.0)"
        gamma = "(s.remaining / 12.0)"
        repay = f"CASE WHEN s.note_rate = 0 THEN 1.0 / {gamma} ELSE {i0} / (exp({i0} * {gamma}) - 1.0) END"
        stage7 = f"""
            SELECT s.loan_id, s.borrower_id, s.loan_officer_id, s.branch_id, s.product_type, s.note_rate,
                   s.first_payment_date, s.made, s.is_arm, s.market_series, s.market_rate, s.market_rate_date,
                   s.opp_id, s.old_qualifies, s.remaining, s.current_balance, s.current_payment, s.new_payment,
                   s.threshold, {derived},
                   ((%(x_mu)s + ({repay})) + %(x_pi)s) AS lam
            FROM stage6 s
            WHERE {"s.monthly_savings > 0" if pg else "s.monthly_c > 0"}
              {"" if self.optimal else ("AND s.spread >= s.threshold" if pg else "AND s.spread_m >= s.threshold_m")}
            {fence}
        """
        stage8 = f"""
            SELECT s.*, sqrt(2.0 * (%(x_rho)s + s.lam)) / %(x_sigma)s AS psi FROM stage7 s{fence}
        """
        phi = (
            f"(1.0 + s.psi * (%(x_rho)s + s.lam) * {flt.format('s.closing_costs')}"
            f" / ({flt.format('s.current_balance')} * %(x_one_minus_tau)s))"
        )
        stage9 = f"SELECT s.*, {phi} AS phi FROM stage8 s{fence}"
        stage10 = f"""
            SELECT s.*, -exp(-s.phi) AS wz, sqrt(2.0 * (1.0 - exp(1.0 - s.phi))) AS wp FROM stage9 s{fence}
        """
        w = "(((-1.0 + s.wp) - s.wp * s.wp / 3.0) + %(w_c3)s * power(s.wp, 3)) - %(w_c4)s * power(s.wp, 4)"
        stages = [stage1, stage2, stage3, stage4, stage5, stage6, stage7, stage8, stage9, stage10]
        ctes = [f"stage{i} AS ({body})" for i, body in enumerate(stages, start=1)]
        ctes.append(f"halley0 AS (SELECT s.*, {w} AS w0 FROM stage10 s{fence})")
        for step in range(finance.LAMBERT_W_HALLEY_STEPS):
            prev = f"s.w{step}"
            halley = (
                f"CASE WHEN {prev} <= -1.0 THEN -1.0 ELSE {prev} - ({prev} * exp({prev}) - s.wz)"
                f" / (exp({prev}) * ({prev} + 1.0) - ({prev} + 2.0) * ({prev} * exp({prev}) - s.wz)"
                f" / (2.0 * {prev} + 2.0)) END"
            )
            ctes.append(f"halley{step + 1} AS (SELECT s.*, {halley} AS w{step + 1} FROM halley{step} s{fence})")
        w_last = f"s.w{finance.LAMBERT_W_HALLEY_STEPS}"
        xstar = f"(s.phi + {w_last}) / s.psi * 100.0"
        optimal = f"round(CAST({xstar} AS numeric), 3)" if pg else f"round({xstar}, 3)"
        cutoff = "CAST(%(season_cutoff)s AS date)" if pg else "%(season_cutoff)s"
        seasoned = f"(s.made >= %(season_payments)s AND s.first_payment_date <= {cutoff})"
        final = f"""
            SELECT s.*, {optimal} AS optimal_threshold, {seasoned} AS seasoning_ok,
                   CASE WHEN s.product_type = 'va'
                        THEN (s.drop_ok AND s.break_even_months <= %(va_recoup)s) END AS va_irrrl_ok,
                   CASE WHEN s.product_type = 'fha' THEN s.drop_ok END AS fha_streamline_ok
            FROM halley{finance.LAMBERT_W_HALLEY_STEPS} s
        """
        if self.optimal:
            spread = "s.spread" if pg else "round(s.spread * 1000)"
            opt = "s.optimal_threshold" if pg else "round(s.optimal_threshold * 1000)"
            ctes.append(f"scored AS ({final})")
            final = f"SELECT s.* FROM scored s WHERE {spread} >= {opt}"
        return ",\n".join(ctes) + "\n" + final

    # --- statements ------------------------------------------------------------------------------------

    def _execute(self, cursor: Any, sql: str) -> int:
        cursor.execute(sql, self.params)
        return cursor.rowcount

    def run(self) -> dict[str, int]:
        active = self.active
        counts = {"considered": sum(row["n"] for row in active), "matched": 0, "created": 0, "updated": 0, "expired": 0}
        if not self.rates or not self.bands:
            return counts
        inputs = self._inputs_cte()
        with connection.cursor() as cursor:
            if self.pg:
                # Room for the hash joins; the run is rerunnable, so its commit need not wait for the WAL flush.
                cursor.execute("SET LOCAL work_mem = '128MB'")
                cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(f"DROP TABLE IF EXISTS {WORK_TABLE}")
            self._execute(cursor, f"CREATE TEMPORARY TABLE {WORK_TABLE} AS WITH {inputs},\n{self._qualifying_select()}")
            # Every later statement looks loans up in the work table. Temporary tables are never analyzed by
            # autovacuum: without the index and the ANALYZE, a first match of a big organization (opportunity
            # statistics still empty) planned the "no longer qualifies" anti-join as a nested loop over
            # sequential scans, O(n²), and never finished.
            cursor.execute(f"CREATE INDEX {WORK_TABLE}_loan ON {WORK_TABLE} (loan_id)")
            if self.pg:
                cursor.execute(f"ANALYZE {WORK_TABLE}")
            cursor.execute(f"SELECT COUNT(*) FROM {WORK_TABLE}")
            counts["matched"] = cursor.fetchone()[0]
            counts["created"] = self._insert_new(cursor)
            counts["updated"] = self._update_changed(cursor)
            counts["expired"] = self._disqualify(cursor)
            cursor.execute(f"DROP TABLE {WORK_TABLE}")
        return counts

    FIGURES = (
        "market_series",
        "market_rate",
        "market_rate_date",
        "note_rate",
        "spread",
        "threshold",
        "optimal_threshold",
        "remaining_months",
        "current_balance",
        "current_payment",
        "new_payment",
        "monthly_savings",
        "total_interest_savings",
        "closing_costs",
        "break_even_months",
        "net_benefit",
        "is_arm",
        "va_irrrl_ok",
        "fha_streamline_ok",
        "seasoning_ok",
        "borrower_id",
        "loan_officer_id",
        "branch_id",
        "product_type",
    )

    def _work_column(self, name: str) -> str:
        return "t.remaining" if name == "remaining_months" else f"t.{name}"

    def _fmt_money(self, expr: str) -> str:
        return f"to_char({expr}, 'FM999999999990.00')" if self.pg else f"printf('%%.2f', {expr})"

    def _fmt_rate(self, expr: str) -> str:
        return f"to_char({expr}, 'FM990.000')" if self.pg else f"printf('%%.3f', {expr})"

    def _activity_insert(self, *, kind: str, body: str, source: str) -> str:
        """INSERT of one timeline entry per row of ``source`` (a FROM clause with rows ``w``)."""
        data = "CAST(%(activity_data)s AS jsonb)" if self.pg else "%(activity_data)s"
        return f"""
            INSERT INTO pipeline_activity (organization_id, opportunity_id, borrower_id, kind, channel,
                from_stage, to_stage, body, data, occurred_at, created_at)
            SELECT w.organization_id, w.id, w.borrower_id, '{kind}', '', '', '', {body}, {data}, %(now)s, %(now)s
            {source}
        """

    def _write_logged(self, cursor: Any, *, write: str, returning: str, activity: str, filter: str = "") -> int:
        """PostgreSQL: the write and its timeline entries in one statement (data-modifying CTE); returns the
        number of rows written."""
        source = f"FROM w {filter}"
        cursor.execute(
            f"WITH w AS ({write} RETURNING {returning}), a AS ({activity.replace('{source}', source)} RETURNING 1)"
            " SELECT COUNT(*) FROM w",
            self.params,
        )
        return cursor.fetchone()[0]

    def _insert_new(self, cursor: Any) -> int:
        columns = ", ".join(self.FIGURES)
        values = ", ".join(self._work_column(c) for c in self.FIGURES)
        insert = f"""
            INSERT INTO pipeline_opportunity AS o (organization_id, loan_id, stage, qualifies, first_matched_at,
                last_matched_at, match_run_id, attention_reason, created_at, updated_at,
                matched_spread, matched_threshold, matched_rule, {columns})
            SELECT %(org)s, t.loan_id, 'new', {self._true()}, %(now)s, %(now)s, %(run)s, '', %(now)s, %(now)s,
                   t.spread, t.threshold, %(rule)s, {values}
            FROM {WORK_TABLE} t WHERE t.opp_id IS NULL
            ON CONFLICT (loan_id) WHERE stage IN {self._in(OPEN_STAGES)} DO NOTHING
        """
        body = (
            f"'Saves $' || {self._fmt_money('w.monthly_savings')} || ' a month at '"
            f" || {self._fmt_rate('w.market_rate')} || '%% (' || w.market_series || ')'"
        )
        activity = self._activity_insert(kind=Activity.Kind.MATCHED, body=body, source="{source}")
        if self.pg:
            return self._write_logged(
                cursor,
                write=insert,
                returning="o.organization_id, o.id, o.borrower_id, o.monthly_savings, o.market_rate, o.market_series",
                activity=activity,
            )
        created = self._execute(cursor, insert)
        new_rows = "FROM pipeline_opportunity w WHERE w.match_run_id = %(run)s AND w.first_matched_at = %(now)s"
        self._execute(cursor, activity.replace("{source}", new_rows))
        return created

    def _update_changed(self, cursor: Any) -> int:
        """Refresh the figures of open opportunities that changed (and re-qualify them); log re-qualifications."""
        sets = ", ".join(f"{c} = {self._work_column(c)}" for c in self.FIGURES)
        changed = " OR ".join(
            [self._distinct("o.qualifies", self._true())]
            + [self._distinct(f"o.{c}", self._work_column(c)) for c in self.FIGURES]
        )
        update = f"""
            UPDATE pipeline_opportunity AS o
            SET {sets}, qualifies = {self._true()}, disqualified_at = NULL, last_matched_at = %(now)s,
                match_run_id = %(run)s, updated_at = %(now)s
            FROM {WORK_TABLE} t
            WHERE o.id = t.opp_id AND ({changed})
        """
        body = f"'Qualifies again at ' || {self._fmt_rate('w.market_rate')} || '%% (' || w.market_series || ')'"
        activity = self._activity_insert(kind=Activity.Kind.REQUALIFIED, body=body, source="{source}")
        if self.pg:
            return self._write_logged(
                cursor,
                write=update,
                returning="o.organization_id, o.id, o.borrower_id, o.market_rate, o.market_series, t.old_qualifies",
                activity=activity,
                filter="WHERE NOT w.old_qualifies",
            )
        requalified = (
            "FROM (SELECT o.organization_id, o.id, o.borrower_id, t.market_rate, t.market_series"
            f" FROM {WORK_TABLE} t JOIN pipeline_opportunity o ON o.id = t.opp_id WHERE t.old_qualifies = 0) w"
        )
        self._execute(cursor, activity.replace("{source}", requalified))
        return self._execute(cursor, update)

    def _disqualify(self, cursor: Any) -> int:
        """Open, still-qualifying opportunities (of a priced product) whose loan is not in today's set: marked,
        stage and sequence kept."""
        where = (
            f"o.organization_id = %(org)s AND o.stage IN {self._in(OPEN_STAGES)} AND o.qualifies = {self._true()}"
            f" AND NOT EXISTS (SELECT 1 FROM {WORK_TABLE} t WHERE t.loan_id = o.loan_id)"
        )
        if not self.all_priced:
            bucket = "CASE WHEN l.term_months <= 180 THEN 180 ELSE 360 END"
            priced = " OR ".join(
                f"(l.product_type = %(r{i}_pt)s AND {bucket} = %(r{i}_b)s)" for i in range(len(self.rates))
            )
            where += f" AND EXISTS (SELECT 1 FROM loans_loan l WHERE l.id = o.loan_id AND ({priced}))"
        update = f"""
            UPDATE pipeline_opportunity AS o
            SET qualifies = {self._false()}, disqualified_at = %(now)s, match_run_id = %(run)s, updated_at = %(now)s
            WHERE {where}
        """
        as_of = "to_char(CAST(%(as_of)s AS date), 'YYYY-MM-DD')" if self.pg else "%(as_of)s"
        activity = self._activity_insert(
            kind=Activity.Kind.DISQUALIFIED, body=f"'No longer qualifies as of ' || {as_of}", source="{source}"
        )
        if self.pg:
            return self._write_logged(
                cursor, write=update, returning="o.organization_id, o.id, o.borrower_id", activity=activity
            )
        leaving = f"FROM (SELECT o.organization_id, o.id, o.borrower_id FROM pipeline_opportunity o WHERE {where}) w"
        self._execute(cursor, activity.replace("{source}", leaving))
        return self._execute(cursor, update)
