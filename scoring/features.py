"""The score's inputs, computed in SQL for a whole organization at once (or for one opportunity).

One query text serves the nightly scoring (``scoring.services.scoring`` wraps it in an UPDATE), the training
set (the same figures as of each month's first day, ``scoring.services.training``) and "why this score" (one
opportunity), so the model is trained and applied on exactly the same numbers.

Mark-to-market (DESIGN §12): estimated value = property value × index(latest quarter on or before the as-of
date) / index(quarter of the valuation date), with the FHFA all-transactions index of the property's state.
Without an index for the valuation's quarter (no state, a valuation newer than the latest index) the appraised
value stands and ``estimated_value_quarter`` is empty. Cash-out room is the estimated value times the highest
cash-out LTV of the organization's active products of the loan's type (80 % without one), less the balance.

Loan age is in whole months, so a score moves when something about the opportunity moves (engagement, the index,
a new month), not every night by a day's age: the nightly UPDATE then writes only the rows that changed.

The features are doubles, computed in double precision from the stored values (LTV and equity unrounded); the
figures written for people to read (estimated value, LTV, equity, cash-out room) are exact numerics, rounded once.

Engagement counts the opportunity's timeline (``loans.Activity``): opens, clicks, replies and bookings in the 90
days up to the as-of time, and every message sent before it ("touches").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import connection

from core.choices import ProductType
from loans.models import Loan, LoanProduct
from pipeline.models import Activity, Opportunity
from scoring.models import HousePriceIndex

ACTIVITY = Activity._meta.db_table
PRODUCT = LoanProduct._meta.db_table
OPPORTUNITY = Opportunity._meta.db_table
LOAN = Loan._meta.db_table
HPI = HousePriceIndex._meta.db_table
ENGAGEMENT_WINDOW = dt.timedelta(days=90)
DEFAULT_CASH_OUT_LTV = 80
SCORED_STAGES = ("new", "contacted", "engaged", "appointment")  # open and before application


@dataclass(frozen=True)
class Feature:
    name: str
    label: str  # the words of "why this score"
    unit: str  # how its value reads: points, money, percent, months, score, count, flag


FEATURES: tuple[Feature, ...] = (
    Feature("spread", "spread", "points"),
    Feature("monthly_savings", "monthly savings", "money"),
    Feature("lifetime_savings", "lifetime interest savings", "money"),
    Feature("current_ltv", "LTV", "percent"),
    Feature("equity", "equity", "money"),
    Feature("months_since_origination", "loan age", "months"),
    Feature("balance", "balance", "money"),
    Feature("credit_score", "credit score", "score"),
    Feature("product_jumbo", "jumbo loan", "flag"),
    Feature("product_fha", "FHA loan", "flag"),
    Feature("product_va", "VA loan", "flag"),
    Feature("product_usda", "USDA loan", "flag"),
    Feature("opens_90d", "emails opened in 90 days", "count"),
    Feature("clicks_90d", "links clicked in 90 days", "count"),
    Feature("replies_90d", "replies in 90 days", "count"),
    Feature("bookings_90d", "calls booked in 90 days", "count"),
    Feature("touches", "messages sent so far", "count"),
)
FEATURE_NAMES = tuple(feature.name for feature in FEATURES)
FIGURES = ("estimated_value", "estimated_value_quarter", "current_ltv_pct", "equity_amount", "cash_out_room")

_DIALECT = {
    "postgresql": {
        "float": "double precision",
        # On a timestamp without time zone: date_trunc of a date goes through timestamptz and the session's zone.
        "quarter_start": "CAST(date_trunc('quarter', CAST({d} AS timestamp)) AS date)",
        "days": "(CAST(%(asof_date)s AS date) - {d})",
        "greatest": "GREATEST",
        "least": "LEAST",
    },
    "sqlite": {
        "float": "REAL",
        "quarter_start": "date({d}, 'start of month', '-' || ((CAST(strftime('%%m', {d}) AS INTEGER) - 1) %% 3) "
        "|| ' months')",
        "days": "(julianday(%(asof_date)s) - julianday({d}))",
        "greatest": "MAX",
        "least": "MIN",
    },
}


def dialect() -> dict[str, str]:
    return _DIALECT["postgresql" if connection.vendor == "postgresql" else "sqlite"]


def _product_flag(product: str, float_type: str) -> str:
    return f"CAST(CASE WHEN v.product_type = '{product}' THEN 1 ELSE 0 END AS {float_type})"


def _age_months(days: str, float_type: str) -> str:
    return f"FLOOR(CAST({days} AS {float_type}) / CAST(30.4375 AS {float_type}))"


CHANGED_TABLE = "scoring_changed"  # a temporary table, for the one transaction of a scoring run


def changed_select() -> str:
    """The ids of the open opportunities whose inputs may differ from the previous scoring's (as of
    ``%(prev_asof)s``), for the nightly UPDATE to compute only them. An input changes only when one of these does:

    * the opportunity has no score yet, or its row was written since ``%(watermark)s`` (the match's figures, a
      stage change, a new opportunity), or its loan's (an import: credit score, valuation, state, note date);
    * its loan age in whole months is not the one of the previous run;
    * its timeline has an engagement entry recorded since ``%(watermark)s``, or one whose time entered the
      counted span (after the previous as-of time) or left the 90-day window since.

    Everything else (the model, the house price indexes, the cash-out LTVs, this query) changes every row at
    once: ``scoring.services.scores`` then scores all of them instead. One pass over the opportunities (the
    loans' part as a hashed list), one over the loans, and the timeline's recording-time index.
    """
    d = dialect()
    scored = "o.organization_id = %(org)s AND o.stage IN ({})".format(", ".join(f"'{s}'" for s in SCORED_STAGES))
    now_age = _age_months(d["days"].format(d="l.note_date"), d["float"])
    prev_age = _age_months(d["days"].format(d="l.note_date").replace("%(asof_date)s", "%(prev_date)s"), d["float"])
    return f"""SELECT o.id
      FROM {OPPORTUNITY} o
     WHERE {scored}
       AND (o.score IS NULL OR o.updated_at >= %(watermark)s
            OR o.loan_id IN (SELECT l.id
                               FROM {LOAN} l
                              WHERE l.organization_id = %(org)s
                                AND (l.updated_at >= %(watermark)s OR {now_age} <> {prev_age})))
    UNION
    SELECT a.opportunity_id
      FROM {ACTIVITY} a
     WHERE a.organization_id = %(org)s AND a.opportunity_id IS NOT NULL
       AND a.kind IN ('opened', 'clicked', 'replied', 'booked', 'sent')
       AND (a.created_at >= %(watermark)s
            OR (a.occurred_at > %(prev_asof)s AND a.occurred_at <= %(asof)s)
            OR (a.kind <> 'sent' AND a.occurred_at > %(prev_since)s AND a.occurred_at <= %(since)s))"""


def features_cte(*, population: str, changed_only: bool = False) -> str:
    """``WITH … features AS (…)``: one row per opportunity of ``population`` with every feature (float, NULL
    when unknown), the figures written to the opportunity, and for ``snapshot`` the outcome columns.

    population: ``open`` (the organization's opportunities before application), ``one`` (``%(opportunity)s``)
    or ``snapshot`` (opportunities matched before the as-of time that had not reached an outcome or closed by
    then; ``label`` = reached an application within the next 90 days). ``changed_only`` (with ``open``): only
    the opportunities in ``CHANGED_TABLE`` (``changed_select``, written first by the scoring).
    """
    d = dialect()
    f = d["float"]
    quarter = d["quarter_start"].format(d="l.property_value_date")
    months = d["days"].format(d="l.note_date")
    where = {
        "open": "o.organization_id = %(org)s AND o.stage IN ({})".format(", ".join(f"'{s}'" for s in SCORED_STAGES)),
        "one": "o.organization_id = %(org)s AND o.id = %(opportunity)s",
        "snapshot": "o.organization_id = %(org)s AND o.first_matched_at < %(asof)s",
    }[population]
    only_changed = f"\n       AND a.opportunity_id IN (SELECT c.id FROM {CHANGED_TABLE} c)" if changed_only else ""
    if changed_only:
        where += f" AND o.id IN (SELECT c.id FROM {CHANGED_TABLE} c)"
    snapshot = population == "snapshot"
    outcomes_cte = (
        f""", outcomes AS (
    SELECT a.opportunity_id,
           MIN(CASE WHEN a.kind = 'refinance_initiated'
                      OR (a.kind = 'stage_change' AND a.to_stage IN ('application', 'won'))
                    THEN a.occurred_at END) AS outcome_at,
           MIN(CASE WHEN a.kind = 'stage_change' AND a.to_stage IN ('lost', 'archived')
                    THEN a.occurred_at END) AS closed_at
      FROM {ACTIVITY} a
     WHERE a.organization_id = %(org)s AND a.kind IN ('stage_change', 'refinance_initiated')
     GROUP BY a.opportunity_id
)"""
        if snapshot
        else ""
    )
    outcome_columns = (
        """,
           COALESCE(oc.outcome_at, CASE WHEN o.stage IN ('application', 'won') THEN o.stage_changed_at END)
               AS outcome_at,
           COALESCE(oc.closed_at, CASE WHEN o.stage IN ('lost', 'archived') THEN o.stage_changed_at END)
               AS closed_at"""
        if snapshot
        else ""
    )
    outcome_join = "\n      LEFT JOIN outcomes oc ON oc.opportunity_id = o.id" if snapshot else ""
    snapshot_filter = (
        "\n     WHERE (v.outcome_at IS NULL OR v.outcome_at > %(asof)s)"
        " AND (v.closed_at IS NULL OR v.closed_at > %(asof)s)"
        if snapshot
        else ""
    )
    snapshot_columns = (
        ",\n           CASE WHEN v.outcome_at <= %(horizon)s THEN 1 ELSE 0 END AS label" if snapshot else ""
    )
    return f"""
WITH latest_quarter AS (
    SELECT h.state, MAX(h.quarter) AS quarter
      FROM {HPI} h
     WHERE h.quarter <= %(asof_date)s
     GROUP BY h.state
), latest AS (
    SELECT h.state, h.quarter, h.value
      FROM {HPI} h
      JOIN latest_quarter q ON q.state = h.state AND q.quarter = h.quarter
), cash_out AS (
    SELECT p.product_type, MAX(p.max_ltv_cash_out) AS ltv
      FROM {PRODUCT} p
     WHERE p.organization_id = %(org)s AND p.is_active
     GROUP BY p.product_type
), engagement AS (
    SELECT a.opportunity_id,
           SUM(CASE WHEN a.kind = 'opened' AND a.occurred_at > %(since)s THEN 1 ELSE 0 END) AS opens,
           SUM(CASE WHEN a.kind = 'clicked' AND a.occurred_at > %(since)s THEN 1 ELSE 0 END) AS clicks,
           SUM(CASE WHEN a.kind = 'replied' AND a.occurred_at > %(since)s THEN 1 ELSE 0 END) AS replies,
           SUM(CASE WHEN a.kind = 'booked' AND a.occurred_at > %(since)s THEN 1 ELSE 0 END) AS bookings,
           SUM(CASE WHEN a.kind = 'sent' THEN 1 ELSE 0 END) AS touches
      FROM {ACTIVITY} a
     WHERE a.organization_id = %(org)s AND a.opportunity_id IS NOT NULL AND a.occurred_at <= %(asof)s
       AND a.kind IN ('opened', 'clicked', 'replied', 'booked', 'sent'){only_changed}
     GROUP BY a.opportunity_id
){outcomes_cte}, valued AS MATERIALIZED (
    SELECT o.id, o.spread, o.monthly_savings, o.total_interest_savings, o.current_balance, o.product_type,
           l.credit_score, {months} AS age_days,
           CASE WHEN l.property_value IS NULL THEN NULL
                WHEN base.value IS NULL OR latest.value IS NULL THEN l.property_value
                ELSE ROUND(l.property_value * latest.value / base.value, 2) END AS estimated_value,
           CASE WHEN l.property_value IS NOT NULL AND base.value IS NOT NULL THEN latest.quarter END
               AS estimated_value_quarter,
           COALESCE(c.ltv, {DEFAULT_CASH_OUT_LTV}) AS cash_out_ltv,
           COALESCE(e.opens, 0) AS opens, COALESCE(e.clicks, 0) AS clicks, COALESCE(e.replies, 0) AS replies,
           COALESCE(e.bookings, 0) AS bookings, COALESCE(e.touches, 0) AS touches{outcome_columns}
      FROM {OPPORTUNITY} o
      JOIN {LOAN} l ON l.id = o.loan_id
      LEFT JOIN latest ON latest.state = l.property_state
      LEFT JOIN {HPI} base ON base.state = l.property_state AND base.quarter = {quarter}
      LEFT JOIN cash_out c ON c.product_type = o.product_type
      LEFT JOIN engagement e ON e.opportunity_id = o.id{outcome_join}
     WHERE {where}
), features AS (
    SELECT v.id,
           v.estimated_value, v.estimated_value_quarter,
           CASE WHEN v.estimated_value > 0 THEN ROUND(100 * v.current_balance / v.estimated_value, 2) END
               AS current_ltv_pct,
           v.estimated_value - v.current_balance AS equity_amount,
           CASE WHEN v.estimated_value IS NOT NULL
                THEN {d["greatest"]}(ROUND(v.estimated_value * v.cash_out_ltv / 100, 2) - v.current_balance, 0)
           END AS cash_out_room,
           CAST(v.spread AS {f}) AS spread,
           CAST(v.monthly_savings AS {f}) AS monthly_savings,
           CAST(v.total_interest_savings AS {f}) AS lifetime_savings,
           CASE WHEN v.estimated_value > 0
                THEN 100 * CAST(v.current_balance AS {f}) / CAST(v.estimated_value AS {f}) END AS current_ltv,
           CAST(v.estimated_value AS {f}) - CAST(v.current_balance AS {f}) AS equity,
           CAST(FLOOR(CAST(v.age_days AS {f}) / CAST(30.4375 AS {f})) AS {f}) AS months_since_origination,
           CAST(v.current_balance AS {f}) AS balance,
           CAST(v.credit_score AS {f}) AS credit_score,
           {_product_flag(ProductType.JUMBO, f)} AS product_jumbo,
           {_product_flag(ProductType.FHA, f)} AS product_fha,
           {_product_flag(ProductType.VA, f)} AS product_va,
           {_product_flag(ProductType.USDA, f)} AS product_usda,
           CAST(v.opens AS {f}) AS opens_90d,
           CAST(v.clicks AS {f}) AS clicks_90d,
           CAST(v.replies AS {f}) AS replies_90d,
           CAST(v.bookings AS {f}) AS bookings_90d,
           CAST(v.touches AS {f}) AS touches{snapshot_columns}
      FROM valued v{snapshot_filter}
)"""


_NAMED = re.compile(r"%\((\w+)\)s")


def bind(sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """Named placeholders → positional ``%s`` with the values in order (both backends), adapted for the
    database (SQLite compares timestamps as text in Django's own format)."""
    params: list[Any] = []
    ops = connection.ops

    def adapt(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, dt.date):
            return ops.adapt_datefield_value(value)
        return value

    def replace(match: re.Match[str]) -> str:
        params.append(adapt(values[match.group(1)]))
        return "%s"

    return _NAMED.sub(replace, sql), params


def as_of_values(*, organization_id: int, asof: dt.datetime, **extra: Any) -> dict[str, Any]:
    return {
        "org": organization_id,
        "asof": asof,
        "asof_date": asof.date(),
        "since": asof - ENGAGEMENT_WINDOW,
        "horizon": asof + ENGAGEMENT_WINDOW,
        **extra,
    }


def feature_rows(
    *, organization_id: int, asof: dt.datetime, population: str, opportunity_id: int | None = None
) -> list[dict[str, Any]]:
    """The features (and figures) of a population as of ``asof``: one dict per opportunity, ordered by id."""
    extra_columns = ", f.label" if population == "snapshot" else ""
    columns = ", ".join(f"f.{name}" for name in (*FEATURE_NAMES, *FIGURES))
    sql = f"{features_cte(population=population)}\nSELECT f.id, {columns}{extra_columns} FROM features f ORDER BY f.id"
    text, params = bind(sql, as_of_values(organization_id=organization_id, asof=asof, opportunity=opportunity_id))
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        names = [col[0] for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
