"""The SELECT of the daily match: every loan that qualifies today with every figure of its opportunity, computed
in SQL with the formulas, rounding and order of ``loans.finance`` (the tests compare them row by row).

Stages (CTEs, each computed once):

1. the candidate book joined to today's rates of its product family and bucket (a conforming or jumbo loan sees
   both rates), its county's conforming limit, its open opportunity; the rate it is matched on (an ARM's current
   rate when the file gives one, else the note rate); payments made (month-end rule of ``finance.add_months``);
2. – 4. the scheduled payment and today's balance (``finance.balance_as_of``);
5. conforming or jumbo on today's balance against the county's limit (the baseline where the county is
   unknown; high-balance conforming is conforming), which picks the rate and closing-cost rule; the current
   payment (an ARM on its current rate: today's balance amortised over the months left);
6. the horizon: the payments that retire the balance (``finance.horizon_months``, double precision, then a
   whole month), at most the scheduled months left; 7. – 9. the new payment over it, the current loan's last
   (partial) payment, savings, costs, spread, the flat band;
10. … x* (Agarwal, Driscoll & Laibson 2013) in ``float8`` with the organization's marginal tax rate: points are
   deducted over the new loan's life (``finance.points_deduction_factor``), then the branch-point series and the
   Halley steps of ``finance.lambert_w0_neg_exp``.

PostgreSQL computes money with exact ``numeric``; SQLite with doubles, and integer cents / thousandths of a point
wherever an exact half or an exact boundary can occur (closing costs, spread, savings, break-even).
"""

from __future__ import annotations

from typing import Any

from core.choices import ProductType
from loans import finance

CONVENTIONAL = (ProductType.CONFORMING, ProductType.JUMBO)
MIN_REMAINING_MONTHS = 60  # a loan needs more than this many payments left


class MatchSelect:
    """Mixin of ``MatchStatements``: the dialect helpers and the qualifying SELECT."""

    pg: bool
    optimal: bool
    params: dict[str, Any]
    rates: dict[tuple[str, int], Any]
    bands: list[Any]
    costs: dict[tuple[str, int], tuple[Any, Any]]
    org: Any
    cooling: bool
    limit_year: int | None
    OPEN_STAGES: tuple[str, ...]
    CLOSED_STAGES: tuple[str, ...]

    # --- dialect helpers ------------------------------------------------------------------------------

    def _num(self, name: str) -> str:
        """A decimal parameter as the exact type of the dialect."""
        return f"CAST(%({name})s AS numeric)" if self.pg else f"CAST(%({name})s AS REAL)"

    def _flt(self, expr: str) -> str:
        return f"CAST({expr} AS double precision)" if self.pg else f"CAST({expr} AS REAL)"

    def _ymd(self, col: str) -> tuple[str, str, str]:
        if self.pg:
            # date_part (float8) rather than EXTRACT, which returns numeric since PostgreSQL 14 and costs more.
            return tuple(f"CAST(date_part('{part}', {col}) AS integer)" for part in ("year", "month", "day"))  # type: ignore[return-value]
        return (
            f"CAST(substr({col}, 1, 4) AS INTEGER)",
            f"CAST(substr({col}, 6, 2) AS INTEGER)",
            f"CAST(substr({col}, 9, 2) AS INTEGER)",
        )

    def _month_end(self, col: str) -> str:
        """Whether the date is the last day of its month."""
        if self.pg:
            return f"(date_part('day', {col} + 1) = 1)"
        return f"(strftime('%%d', {col}, '+1 day') = '01')"

    def _greatest(self, *args: str) -> str:
        return f"{'GREATEST' if self.pg else 'MAX'}({', '.join(args)})"

    def _least(self, *args: str) -> str:
        return f"{'LEAST' if self.pg else 'MIN'}({', '.join(args)})"

    def _payments_made(self, first_payment: str, as_of: tuple[str, str, str], month_end: str, term: str) -> str:
        """finance.payments_made in SQL: payments due on or before the date, between 0 and the term; this month's
        payment is due on the first payment's day, or on the month's last day when the month is shorter."""
        fy, fm, fd = self._ymd(first_payment)
        ay, am, ad = as_of
        months = f"(({ay}) - {fy}) * 12 + (({am}) - {fm}) + CASE WHEN ({ad}) >= {fd} OR {month_end} THEN 1 ELSE 0 END"
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
        return "(" + ", ".join(f"'{v}'" for v in values) + ")"  # trusted literals (stage names, product types)

    def _family(self, product: str) -> str:
        """A jumbo loan is priced in the conforming family: which of the two it is, is decided on today's balance."""
        return f"CASE WHEN {product} = '{ProductType.JUMBO}' THEN '{ProductType.CONFORMING}' ELSE {product} END"

    # --- the CTEs of today's inputs --------------------------------------------------------------------

    def _price_values(self, i: int, product: str, term: int) -> dict[str, Any] | None:
        mr = self.rates.get((product, term))
        if mr is None:
            return None
        from django.db import connection

        cc_fixed, cc_pct = self.costs.get((product, term), (self.org.closing_cost_fixed, self.org.closing_cost_percent))
        return {
            "series": mr.series_code,
            "date": connection.ops.adapt_datefield_value(mr.date),
            "rate": mr.rate,
            "rate_m": int(mr.rate * 1000),
            "ccf": cc_fixed,
            "ccp": cc_pct,
            "ccf_c": int(cc_fixed * 100),
            "ccp_m": int(cc_pct * 1000),
        }

    def _inputs_cte(self) -> str:
        """``market``: one row per (family, bucket) with the base product's rate and cost rule (a_*) and, for the
        conforming family, the jumbo one's (j_*); ``lo_rate`` is the lower of the two (the spread pre-filter)."""
        families: dict[tuple[str, int], None] = {}
        for product, term in sorted(self.rates):
            families[(ProductType.CONFORMING if product == ProductType.JUMBO else product, term)] = None
        rows = []
        for i, (family, term) in enumerate(families):
            base = self._price_values(i, family, term)
            jumbo = self._price_values(i, ProductType.JUMBO, term) if family == ProductType.CONFORMING else None
            cols = [f"%(m{i}_family)s", f"CAST(%(m{i}_b)s AS integer)"]
            self.params.update({f"m{i}_family": family, f"m{i}_b": term})
            for prefix, values in (("a", base), ("j", jumbo)):
                for key in ("series", "date", "rate", "rate_m", "ccf", "ccp", "ccf_c", "ccp_m"):
                    self.params[f"m{i}_{prefix}_{key}"] = None if values is None else values[key]
                name = f"m{i}_{prefix}"
                date = f"CAST(%({name}_date)s AS date)" if self.pg else f"%({name}_date)s"
                cols += [
                    f"CAST(%({name}_series)s AS varchar(40))" if self.pg else f"%({name}_series)s",
                    date,
                    self._num(f"{name}_rate"),
                    f"CAST(%({name}_rate_m)s AS integer)",
                    self._num(f"{name}_ccf"),
                    self._num(f"{name}_ccp"),
                    f"CAST(%({name}_ccf_c)s AS integer)",
                    f"CAST(%({name}_ccp_m)s AS integer)",
                ]
            lo = min(v["rate"] for v in (base, jumbo) if v is not None)
            self.params[f"m{i}_lo"], self.params[f"m{i}_lo_m"] = lo, int(lo * 1000)
            cols += [self._num(f"m{i}_lo"), f"CAST(%(m{i}_lo_m)s AS integer)"]
            rows.append(f"({', '.join(cols)})")
        price_cols = "series, rate_date, rate, rate_m, cc_fixed, cc_pct, cc_fixed_c, cc_pct_m"
        a_cols = ", ".join(f"a_{c.strip()}" for c in price_cols.split(","))
        j_cols = ", ".join(f"j_{c.strip()}" for c in price_cols.split(","))
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
            f"market(family, bucket, {a_cols}, {j_cols}, lo_rate, lo_rate_m) AS (VALUES {', '.join(rows)}),\n"
            f"bands(product_type, lo, hi, spread, spread_m) AS (VALUES {', '.join(bands)})"
        )

    # --- the qualifying loans, every figure computed ------------------------------------------------

    def _stage1(self) -> str:
        pg = self.pg
        as_of = self._ymd("CAST(%(as_of)s AS date)") if pg else self._ymd("%(as_of)s")
        made = self._payments_made("l.first_payment_date", as_of, "%(as_of_month_end)s", "l.term_months")
        made_upb = self._payments_made(
            "l.first_payment_date", self._ymd("l.upb_as_of"), self._month_end("l.upb_as_of"), "l.term_months"
        )
        bucket = "CASE WHEN l.term_months <= 180 THEN 180 ELSE 360 END"
        uses_current = "(l.amortization = 'arm' AND l.current_rate IS NOT NULL)"
        rate_used = f"CASE WHEN {uses_current} THEN l.current_rate ELSE l.note_rate END"
        if pg:
            r_note = "l.note_rate / 1200"
            spread_ok = f"{rate_used} - m.lo_rate >= %(min_spread)s"
        else:
            r_note = "CAST(l.note_rate AS REAL) / 1200.0"
            spread_ok = f"CAST(round(({rate_used}) * 1000) AS INTEGER) - m.lo_rate_m >= %(min_spread_m)s"
        baseline = self._num("baseline")
        limit_join, limit = "", baseline
        if self.limit_year is not None:
            limit_join = f"""LEFT JOIN loans_loanlimit ll ON ll.year = %(limit_year)s
                       AND ll.county_fips = l.property_county_fips AND l.product_type IN {self._in(CONVENTIONAL)}"""
            limit = f"COALESCE(ll.conforming_limit, {baseline})"
        # Loans whose last opportunity was closed recently get no new one (joined only when there are any).
        cooling_join = cooling_filter = ""
        if self.cooling:
            cooling_join = f"""LEFT JOIN (SELECT DISTINCT loan_id FROM pipeline_opportunity
                       WHERE organization_id = %(org)s AND stage IN {self._in(self.CLOSED_STAGES)}
                         AND COALESCE(stage_changed_at, updated_at) > %(cool_off)s) c ON c.loan_id = l.id"""
            cooling_filter = "AND (o.id IS NOT NULL OR c.loan_id IS NULL)"
        return f"""
            SELECT l.id AS loan_id, l.borrower_id, l.loan_officer_id, l.branch_id, m.family,
                   {rate_used} AS note_rate, {uses_current} AS rate_is_current,
                   l.term_months, l.original_amount, l.current_upb, l.first_payment_date,
                   (l.amortization = 'arm') AS is_arm, {limit} AS conf_limit,
                   m.a_series, m.a_rate_date, m.a_rate, m.a_rate_m, m.a_cc_fixed, m.a_cc_pct, m.a_cc_fixed_c,
                   m.a_cc_pct_m, m.j_series, m.j_rate_date, m.j_rate, m.j_rate_m, m.j_cc_fixed, m.j_cc_pct,
                   m.j_cc_fixed_c, m.j_cc_pct_m,
                   o.id AS opp_id, o.qualifies AS old_qualifies,
                   {made} AS made,
                   CASE WHEN l.current_upb IS NULL THEN 0 WHEN l.upb_as_of IS NULL THEN -1 ELSE {made_upb} END
                       AS made_upb,
                   {r_note} AS r_note
            FROM loans_loan l
            JOIN market m ON m.family = {self._family("l.product_type")} AND m.bucket = {bucket}
            {limit_join}
            LEFT JOIN (SELECT id, loan_id, qualifies FROM pipeline_opportunity
                       WHERE organization_id = %(org)s AND stage IN {self._in(self.OPEN_STAGES)}) o ON o.loan_id = l.id
            {cooling_join}
            WHERE l.organization_id = %(org)s
              AND l.status = 'active' AND l.days_past_due = 0 AND l.lien_position = 'first'
              AND {spread_ok}
              AND NOT (l.note_date > %(refi_cutoff)s
                       AND (l.purpose <> 'purchase' OR l.refinanced_from_id IS NOT NULL))
              {cooling_filter}
        """

    def _balance_stages(self) -> list[str]:
        """Stages 2–4: the scheduled payment and today's balance (finance.payment / balance_as_of)."""
        pg, fence = self.pg, self._fence()
        one = "1" if pg else "1.0"
        r2 = "round" if pg else "ROUND"
        since = (
            "CASE WHEN s.current_upb IS NULL THEN s.made WHEN s.made_upb < 0 THEN 0"
            f" ELSE {self._greatest('s.made - s.made_upb', '0')} END"
        )
        stage2 = f"""
            SELECT s.*, s.term_months - s.made AS remaining, {since} AS since,
                   power({one} + s.r_note, s.term_months) AS g_term, power({one} + s.r_note, {since}) AS g_since
            FROM stage1 s
            WHERE s.term_months - s.made > {MIN_REMAINING_MONTHS}{fence}
        """
        amount = "s.original_amount" if pg else "CAST(s.original_amount AS REAL)"
        sched = (
            f"CASE WHEN s.r_note = 0 THEN {r2}({amount} / s.term_months, 2)"
            f" ELSE {r2}(s.original_amount * s.r_note * s.g_term / (s.g_term - 1), 2) END"
        )
        stage3 = f"SELECT s.*, {sched} AS sched_payment FROM stage2 s{fence}"
        base = "COALESCE(s.current_upb, s.original_amount)"
        base = base if pg else f"CAST({base} AS REAL)"
        zero_rate = self._greatest(f"{r2}({base} - s.sched_payment * s.since, 2)", "0")
        rolled = self._greatest(f"{r2}({base} * s.g_since - s.sched_payment * (s.g_since - 1) / s.r_note, 2)", "0")
        balance = f"""CASE WHEN s.since <= 0 THEN {base} WHEN s.made >= s.term_months THEN 0
                      WHEN s.r_note = 0 THEN {zero_rate} ELSE {rolled} END"""
        stage4 = f"SELECT s.*, {balance} AS current_balance FROM stage3 s{fence}"
        return [stage2, stage3, stage4]

    def _pricing_stages(self) -> list[str]:
        """Stages 5–9: product by today's balance, current payment, horizon, new payment, last payment, figures."""
        pg, fence = self.pg, self._fence()
        one = "1" if pg else "1.0"
        r2 = "round" if pg else "ROUND"
        jumbo = f"(s.family = '{ProductType.CONFORMING}' AND s.current_balance > s.conf_limit)"
        picked = ", ".join(
            f"CASE WHEN {jumbo} THEN s.j_{c} ELSE s.a_{c} END AS {alias}"
            for c, alias in (
                ("series", "market_series"),
                ("rate_date", "market_rate_date"),
                ("rate", "market_rate"),
                ("rate_m", "rate_m"),
                ("cc_fixed", "cc_fixed"),
                ("cc_pct", "cc_pct"),
                ("cc_fixed_c", "cc_fixed_c"),
                ("cc_pct_m", "cc_pct_m"),
            )
        )
        product = f"CASE WHEN {jumbo} THEN '{ProductType.JUMBO}' ELSE s.family END"
        r_cur = "s.note_rate / 1200" if pg else "CAST(s.note_rate AS REAL) / 1200.0"
        stage5 = f"""
            SELECT s.*, {product} AS product_type, {picked}, {r_cur} AS r_cur
            FROM stage4 s
            WHERE (CASE WHEN {jumbo} THEN s.j_rate ELSE s.a_rate END) IS NOT NULL{fence}
        """
        bal = "s.current_balance" if pg else "CAST(s.current_balance AS REAL)"
        g_cur = f"power({one} + s.r_cur, s.remaining)"
        recast = (
            f"CASE WHEN s.current_balance <= 0 THEN 0 WHEN s.r_cur = 0 THEN {r2}({bal} / s.remaining, 2)"
            f" ELSE {r2}(s.current_balance * s.r_cur * {g_cur} / ({g_cur} - 1), 2) END"
        )
        r_new = "s.market_rate / 1200" if pg else "CAST(s.market_rate AS REAL) / 1200.0"
        stage5b = f"""
            SELECT s.*, CASE WHEN s.rate_is_current THEN {recast} ELSE s.sched_payment END AS current_payment,
                   {r_new} AS r_new
            FROM stage5 s{fence}
        """
        # finance.horizon_months: the same double-precision operations in the same order.
        bf, pf = self._flt("s.current_balance"), self._flt("s.current_payment")
        rf = f"({self._flt('s.note_rate')} / 1200.0)"
        x = f"(1.0 - {rf} * {bf} / {pf})"
        tol = self._flt("%(nper_tol)s")

        def months(n: str) -> str:
            whole = f"CAST(ceil({n} - {tol}) AS {'integer' if pg else 'INTEGER'})"
            return self._least("s.remaining", self._greatest("0", whole))

        horizon = f"""CASE WHEN {bf} <= 0 THEN 0 WHEN {pf} <= 0 THEN s.remaining
                      WHEN {rf} = 0 THEN {months(f"{bf} / {pf}")}
                      WHEN {x} <= 0 THEN s.remaining
                      ELSE {months(f"-ln({x}) / ln(1.0 + {rf})")} END"""
        stage6 = f"SELECT s.*, {horizon} AS horizon FROM stage5b s{fence}"
        stage7 = f"""
            SELECT s.*, power({one} + s.r_cur, s.horizon - 1) AS g_last, power({one} + s.r_new, s.horizon) AS g_new
            FROM stage6 s
            WHERE s.horizon > {MIN_REMAINING_MONTHS}{fence}
        """
        new_pmt = (
            f"CASE WHEN s.current_balance <= 0 THEN 0 WHEN s.r_new = 0 THEN {r2}({bal} / s.horizon, 2)"
            f" ELSE {r2}(s.current_balance * s.r_new * s.g_new / (s.g_new - 1), 2) END"
        )
        before_last = f"""CASE WHEN s.horizon - 1 <= 0 THEN {bal}
            WHEN s.r_cur = 0 THEN {self._greatest(f"{r2}({bal} - s.current_payment * (s.horizon - 1), 2)", "0")}
            ELSE {
            self._greatest(f"{r2}({bal} * s.g_last - s.current_payment * (s.g_last - 1) / s.r_cur, 2)", "0")
        } END"""
        stage8 = f"""
            SELECT s.*, {new_pmt} AS new_payment, {r2}(({before_last}) * ({one} + s.r_cur), 2) AS last_payment,
                   b.spread AS threshold, b.spread_m AS threshold_m
            FROM stage7 s
            JOIN bands b ON b.product_type = s.product_type AND s.current_balance >= b.lo
                        AND (b.hi IS NULL OR s.current_balance < b.hi){fence}
        """
        if pg:
            figures = """
                s.current_payment - s.new_payment AS monthly_savings,
                s.current_payment * (s.horizon - 1) + s.last_payment - s.new_payment * s.horizon
                    AS total_interest_savings,
                round(s.cc_fixed + s.current_balance * s.cc_pct / 100, 2) AS closing_costs,
                s.note_rate - s.market_rate AS spread"""
        else:
            figures = """
                CAST(round((s.current_payment - s.new_payment) * 100) AS INTEGER) AS monthly_c,
                CAST(round(s.current_payment * 100) AS INTEGER) * (s.horizon - 1)
                    + CAST(round(s.last_payment * 100) AS INTEGER)
                    - CAST(round(s.new_payment * 100) AS INTEGER) * s.horizon AS total_c,
                s.cc_fixed_c + (CAST(round(s.current_balance * 100) AS INTEGER) * s.cc_pct_m + 50000) / 100000
                    AS costs_c,
                CAST(round(s.note_rate * 1000) AS INTEGER) - s.rate_m AS spread_m"""
        stage9 = f"SELECT s.*, {figures} FROM stage8 s{fence}"
        return [stage5, stage5b, stage6, stage7, stage8, stage9]

    def _qualifying_select(self) -> str:
        pg, fence = self.pg, self._fence()
        if pg:
            derived = """
                s.monthly_savings, s.total_interest_savings, s.closing_costs,
                CASE WHEN s.monthly_savings > 0 THEN CAST(ceil(s.closing_costs / s.monthly_savings) AS integer) END
                    AS break_even_months,
                s.total_interest_savings - s.closing_costs AS net_benefit, s.spread,
                s.closing_costs - s.cc_fixed AS points,
                (s.spread >= %(ntb_drop)s) AS drop_ok"""
        else:
            derived = """
                s.monthly_c / 100.0 AS monthly_savings, s.total_c / 100.0 AS total_interest_savings,
                s.costs_c / 100.0 AS closing_costs,
                CASE WHEN s.monthly_c > 0 THEN (s.costs_c + s.monthly_c - 1) / s.monthly_c END AS break_even_months,
                (s.total_c - s.costs_c) / 100.0 AS net_benefit, s.spread_m / 1000.0 AS spread,
                (s.costs_c - s.cc_fixed_c) / 100.0 AS points,
                (s.spread_m >= %(ntb_drop_m)s) AS drop_ok"""
        flt = self._flt
        # x* inputs (ADL 2013): λ, ψ, the tax-adjusted cost κ, φ, then the branch-point series for W₀(−e^−φ).
        i0 = f"({flt('s.note_rate')} / 100.0)"
        gamma = f"({flt('s.horizon')} / 12.0)"
        repay = f"CASE WHEN s.note_rate = 0 THEN 1.0 / {gamma} ELSE {i0} / (exp({i0} * {gamma}) - 1.0) END"
        stage10 = f"""
            SELECT s.loan_id, s.borrower_id, s.loan_officer_id, s.branch_id, s.product_type, s.note_rate,
                   s.rate_is_current, s.first_payment_date, s.made, s.is_arm, s.market_series, s.market_rate,
                   s.market_rate_date, s.opp_id, s.old_qualifies, s.horizon AS remaining, s.current_balance,
                   s.current_payment, s.new_payment, s.threshold, {derived},
                   ((%(x_mu)s + ({repay})) + %(x_pi)s) AS lam, {gamma} AS gamma
            FROM stage9 s
            WHERE {"s.monthly_savings > 0" if pg else "s.monthly_c > 0"}
              {"" if self.optimal else ("AND s.spread >= s.threshold" if pg else "AND s.spread_m >= s.threshold_m")}
            {fence}
        """
        stage11 = f"SELECT s.*, sqrt(2.0 * (%(x_rho)s + s.lam)) / %(x_sigma)s AS psi FROM stage10 s{fence}"
        deduction = "((1.0 / %(x_k)s) * ((1.0 - exp(-%(x_k)s * s.gamma)) / s.gamma * %(x_rp)s / %(x_k)s + %(x_theta)s))"
        kappa = f"({flt('s.closing_costs')} - %(x_tau)s * {deduction} * {flt('s.points')})"
        phi = f"(1.0 + s.psi * (%(x_rho)s + s.lam) * {kappa} / ({flt('s.current_balance')} * %(x_one_minus_tau)s))"
        stage12 = f"SELECT s.*, {phi} AS phi FROM stage11 s{fence}"
        stage13 = f"""
            SELECT s.*, -exp(-s.phi) AS wz, sqrt(2.0 * (1.0 - exp(1.0 - s.phi))) AS wp FROM stage12 s{fence}
        """
        w = "(((-1.0 + s.wp) - s.wp * s.wp / 3.0) + %(w_c3)s * power(s.wp, 3)) - %(w_c4)s * power(s.wp, 4)"
        stages = [self._stage1(), *self._balance_stages(), *self._pricing_stages(), stage10, stage11, stage12, stage13]
        names = ["stage1", "stage2", "stage3", "stage4", "stage5", "stage5b", "stage6", "stage7", "stage8", "stage9"]
        names += ["stage10", "stage11", "stage12", "stage13"]
        ctes = [f"{name} AS ({body})" for name, body in zip(names, stages, strict=True)]
        ctes.append(f"halley0 AS (SELECT s.*, {w} AS w0 FROM stage13 s{fence})")
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
        # Only the columns the later statements read: the work table is written once and read back by each of them.
        kept = """s.loan_id, s.borrower_id, s.loan_officer_id, s.branch_id, s.product_type, s.note_rate,
                   s.rate_is_current, s.is_arm, s.market_series, s.market_rate, s.market_rate_date, s.opp_id,
                   s.old_qualifies, s.remaining, s.current_balance, s.current_payment, s.new_payment, s.threshold,
                   s.monthly_savings, s.total_interest_savings, s.closing_costs, s.break_even_months,
                   s.net_benefit, s.spread"""
        final = f"""
            SELECT {kept}, {optimal} AS optimal_threshold, {seasoned} AS seasoning_ok,
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
