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
from core.money import NBSP
from loans import finance, limits
from loans.models import Loan
from loans.selectors.products import closing_cost_rules
from pipeline.models import Activity, MatchRun, Opportunity
from pipeline.services.match_select import MatchSelect
from rates.selectors import MarketRate

OPEN_STAGES = tuple(Opportunity.OPEN_STAGES)
CLOSED_STAGES = tuple(s for s in Opportunity.Stage.values if s not in OPEN_STAGES)
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


# The x* parameters (DESIGN §4): ρ, σ, μ, π (τ is the organization's marginal tax rate).
XSTAR = {"rho": 0.05, "sigma": 0.0109, "mu": 0.10, "pi": 0.03}


def xstar_params(*, tax_rate_percent: Decimal) -> dict[str, float]:
    """ρ, σ, μ, π, τ and the constants of ``finance.points_deduction_factor``, computed as finance computes them."""
    tau = float(tax_rate_percent) / 100.0
    theta = XSTAR["mu"] + finance.XSTAR_POINTS_END_EXTRA
    k = theta + XSTAR["rho"] + XSTAR["pi"]
    return {
        **{f"x_{name}": value for name, value in XSTAR.items()},
        "x_tau": tau,
        "x_one_minus_tau": 1.0 - tau,
        "x_theta": theta,
        "x_k": k,
        "x_rp": XSTAR["rho"] + XSTAR["pi"],
    }


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


class MatchStatements(MatchSelect):
    """Builds and runs the statements of one run on the default connection (PostgreSQL or SQLite)."""

    OPEN_STAGES = OPEN_STAGES
    CLOSED_STAGES = CLOSED_STAGES

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
            "as_of_month_end": (as_of + dt.timedelta(days=1)).day == 1,
            "nper_tol": finance.NPER_TOLERANCE,
            **xstar_params(tax_rate_percent=organization.marginal_tax_rate),
        }
        # Conforming or jumbo: today's county limit (the newest loaded year), the year's baseline otherwise.
        self.limit_year = limits.limit_year(field="conforming_limit", as_of=as_of)
        self.params["limit_year"] = self.limit_year
        self.params["baseline"] = limits.conforming_baseline(self.limit_year or as_of.year)
        self.cooling = (
            Opportunity.objects.filter(organization=organization, stage__in=CLOSED_STAGES)
            .filter(
                Q(stage_changed_at__gt=now - cool_off) | Q(stage_changed_at__isnull=True, updated_at__gt=now - cool_off)
            )
            .exists()
        )
        # When every product/term with active loans is priced, "priced" needs no join on loans.
        self.all_priced = all(self._priced(row["product_type"], row["bucket"]) for row in active)
        spreads = [b.min_spread for b in bands]
        min_spread = Decimal(0) if self.optimal or not spreads else min(spreads)
        self.params["min_spread"] = min_spread
        self.params["min_spread_m"] = int(min_spread * 1000)

    def _priced(self, product: str, bucket: int) -> bool:
        """The loan's own product has a rate today (a conforming loan of jumbo size is matched only when the
        jumbo rate exists too; without it, it is not in today's set and its open opportunity stops qualifying)."""
        return (product, bucket) in self.rates

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
                # Only the columns the later statements join and filter on: statistics of all of them took a
                # second at a million loans.
                cursor.execute(f"ANALYZE {WORK_TABLE} (loan_id, opp_id)")
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
        "rate_is_current",
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
        """Dollars as ``core.money.usd`` writes them, without the sign: 1,520.00 (for amounts ≥ 0)."""
        if self.pg:
            return f"to_char({expr}, 'FM999,999,999,990.00')"
        return f"(printf('%%,d', CAST({expr} AS INTEGER)) || substr(printf('%%.2f', {expr}), -3))"

    def _fmt_rate(self, expr: str) -> str:
        """A rate as ``core.money.percent`` writes it: 6.125 % (a no-break space before the sign)."""
        number = f"to_char({expr}, 'FM990.000')" if self.pg else f"printf('%%.3f', {expr})"
        return f"({number} || '{NBSP}%%')"

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
            f" || {self._fmt_rate('w.market_rate')} || ' (' || w.market_series || ')'"
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
        self._execute(cursor, activity.replace("{source}", self._new_rows()))
        return created

    def _new_rows(self) -> str:
        """SQLite: the FROM clause (rows ``w``) of the opportunities ``_insert_new`` has just inserted."""
        return "FROM pipeline_opportunity w WHERE w.match_run_id = %(run)s AND w.first_matched_at = %(now)s"

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
        body = f"'Qualifies again at ' || {self._fmt_rate('w.market_rate')} || ' (' || w.market_series || ')'"
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
            pairs = sorted({(p, b) for p, b in self.rates if self._priced(p, b)})
            for i, (product, term) in enumerate(pairs):
                self.params.update({f"p{i}_pt": product, f"p{i}_b": term})
            priced = (
                " OR ".join(f"(l.product_type = %(p{i}_pt)s AND {bucket} = %(p{i}_b)s)" for i in range(len(pairs)))
                or self._false()
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
