"""The nightly scoring: one set-based UPDATE per organization, after the match.

The active model's coefficients go into the statement as parameters: for every open opportunity before
application, score = 1 / (1 + exp(−z)) with z = intercept + Σ weight · (COALESCE(feature, fill) − mean) / scale,
computed by the database from ``scoring.features``; the same statement writes the marked-to-market figures.
Only rows whose score or figures change are written, so a rerun changes nothing. Opportunities at application
or later keep the score they had before (reports group outcomes by it).

What is computed (``opportunities_score``): every open opportunity when what applies to all of them changed
since the previous run (the model and its coefficients, the house price indexes or which quarter is the latest,
the organization's cash-out LTVs, the query itself: ``inputs_fingerprint``), on the first run, when the previous
run is as of a later time, and at least once every ``FULL_EVERY``; otherwise only the opportunities of
``scoring.features.changed_select`` (their row, their loan or their timeline changed, or their loan age turned a
month), written first into a temporary table, which on a quiet night holds a few percent of the book. Rows are
found changed by their ``updated_at`` / ``created_at`` from ``OVERLAP`` before the previous run started, so a
writer that stamped its rows before that run and committed after it is still seen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.models import Organization
from loans.models import LoanProduct
from pipeline.models import Opportunity
from scoring.features import (
    CHANGED_TABLE,
    ENGAGEMENT_WINDOW,
    SCORED_STAGES,
    as_of_values,
    bind,
    changed_select,
    dialect,
    features_cte,
)
from scoring.models import HousePriceIndex, PropensityModel, ScoringRun
from scoring.services.training import model_ensure

# PostgreSQL, for the one statement: its cost estimate crosses the JIT threshold, and compiling the expressions
# took longer than evaluating them (0.8 s of a 100k run); the CTEs and hashes of a million rows stay in memory.
STATEMENT_SETTINGS = {"jit": "off", "work_mem": "256MB"}
# Set for every run (the full runs were measured with it too): the UPDATE of a few percent of the book (the
# changed opportunities) reads them, their loans and their timeline by index; at the default random_page_cost
# PostgreSQL scanned the million-row tables instead (a cached book).
CHANGED_SETTINGS = {"random_page_cost": "1.1"}
Z_LIMIT = 35.0  # exp() stays finite; a probability this close to 0 or 1 differs from the exact one below 1e-15
# Rows stamped this long before the previous run started count as changed: the longest writer (a million-row
# import, ~20 minutes) stamps its rows when it starts and commits when it ends.
OVERLAP = dt.timedelta(hours=1)
FULL_EVERY = dt.timedelta(days=7)  # a full rescore at least weekly, whatever the timestamps say
WRITTEN = ("score", "estimated_value", "estimated_value_quarter", "current_ltv", "equity", "cash_out_room")


def probability_sql(model: PropensityModel) -> tuple[str, dict[str, Any]]:
    """The logistic of the model's linear combination, over the ``features`` CTE, with named parameters.

    z = intercept + Σ w·(x − mean)/scale is folded into (intercept − Σ w·mean/scale) + Σ (w/scale)·x, one
    product and one sum per feature for the database (the same z to ~1e-15 relative)."""
    d = dialect()
    intercept = float(model.intercept)
    values: dict[str, Any] = {}
    terms = []
    for j, feature in enumerate(model.features):
        slope = float(feature["weight"]) / float(feature["scale"])
        intercept -= slope * float(feature["mean"])
        values |= {f"w{j}": slope, f"i{j}": float(feature["impute"])}
        terms.append(f"%(w{j})s * COALESCE(f.{feature['name']}, %(i{j})s)")
    values["intercept"] = intercept
    z = "\n               + ".join(["%(intercept)s", *terms])
    clamped = f"{d['least']}({d['greatest']}({z}, -{Z_LIMIT}), {Z_LIMIT})"
    return f"1.0 / (1.0 + EXP(-({clamped})))", values


def scoring_statement(
    *, model: PropensityModel, organization_id: int, asof: dt.datetime, previous: ScoringRun | None = None
) -> tuple[str, list[Any]]:
    """The UPDATE of every open opportunity's score and figures, or with ``previous`` (an earlier run on the
    same inputs fingerprint) of only those whose inputs may have changed since it."""
    probability, coefficients = probability_sql(model)
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    table = Opportunity._meta.db_table
    changed = " OR ".join(f"{table}.{column} {distinct} s.{column}" for column in WRITTEN)
    sql = f"""{features_cte(population="open", changed_only=previous is not None)}, scored AS MATERIALIZED (
    SELECT f.id, {probability} AS score,
           f.estimated_value, f.estimated_value_quarter, f.current_ltv_pct AS current_ltv,
           f.equity_amount AS equity, f.cash_out_room
      FROM features f
)
UPDATE {table}
   SET score = s.score, estimated_value = s.estimated_value, estimated_value_quarter = s.estimated_value_quarter,
       current_ltv = s.current_ltv, equity = s.equity, cash_out_room = s.cash_out_room
  FROM scored s
 WHERE {table}.id = s.id AND ({changed})"""
    return bind(sql, as_of_values(organization_id=organization_id, asof=asof, **coefficients))


def changed_statement(*, organization_id: int, asof: dt.datetime, previous: ScoringRun) -> tuple[str, list[Any]]:
    """The temporary table of the opportunities whose inputs may have changed since ``previous``: a table (not a
    CTE) so that its real size, a few percent of the book on a quiet night, plans the UPDATE."""
    sql = f"CREATE TEMPORARY TABLE {CHANGED_TABLE} AS {changed_select()}"
    values = {
        "watermark": previous.started_at - OVERLAP,
        "prev_asof": previous.started_at,
        "prev_date": previous.started_at.date(),
        "prev_since": previous.started_at - ENGAGEMENT_WINDOW,
    }
    return bind(sql, as_of_values(organization_id=organization_id, asof=asof, **values))


def inputs_fingerprint(*, organization: Organization, model: PropensityModel, asof: dt.datetime) -> str:
    """A digest of what every open opportunity's score depends on at once: the scoring query, the model's
    coefficients, every house price index (and which quarters are on or before ``asof``) and the organization's
    cash-out LTVs. When it differs from the previous run's, every open opportunity is scored again."""
    digest = hashlib.sha256()
    digest.update(scoring_statement(model=model, organization_id=0, asof=asof)[0].encode())
    digest.update(json.dumps([model.pk, model.intercept, model.features], sort_keys=True, default=str).encode())
    asof_date = asof.date()
    for state, quarter, value in HousePriceIndex.objects.order_by("state", "quarter").values_list(
        "state", "quarter", "value"
    ):
        digest.update(f"{state}{quarter}{value}{quarter <= asof_date}".encode())
    for product_type, ltv in (
        LoanProduct.objects.filter(organization=organization, is_active=True)
        .order_by("product_type", "max_ltv_cash_out")
        .values_list("product_type", "max_ltv_cash_out")
    ):
        digest.update(f"|{product_type}:{ltv}".encode())
    return digest.hexdigest()


def _previous_run(*, organization: Organization, inputs: str, now: dt.datetime) -> ScoringRun | None:
    """The run an incremental scoring may start from: the last one written (the state the rows are in), on the
    same inputs, not as of a time after ``now``, with a full run within ``FULL_EVERY``; None means: score every
    open opportunity."""
    runs = ScoringRun.objects.filter(organization=organization)
    previous = runs.order_by("-pk").first()
    if previous is None or previous.inputs != inputs or previous.started_at > now:
        return None
    if not runs.filter(full=True, started_at__gt=now - FULL_EVERY).exists():
        return None
    return previous


def _settings(cursor: Any, settings: dict[str, str]) -> dict[str, str]:
    """Set PostgreSQL settings for the rest of the transaction; returns the values they had (nothing on SQLite)."""
    if connection.vendor != "postgresql" or not settings:
        return {}
    names = list(settings)
    cursor.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(names)), names)
    previous = dict(zip(names, cursor.fetchone(), strict=True))
    for name, value in settings.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    return previous


def opportunities_score(*, organization: Organization, now: dt.datetime | None = None) -> ScoringRun:
    """Score the open opportunities of the organization before application with its active model: those whose
    inputs changed since the previous run, or all of them (see the module's docstring)."""
    now = now or timezone.now()
    started = time.monotonic()
    model = model_ensure(organization=organization, now=now)
    inputs = inputs_fingerprint(organization=organization, model=model, asof=now)
    previous = _previous_run(organization=organization, inputs=inputs, now=now)
    sql, params = scoring_statement(model=model, organization_id=organization.pk, asof=now, previous=previous)
    with transaction.atomic():
        with connection.cursor() as cursor:
            previous_settings = _settings(cursor, STATEMENT_SETTINGS | CHANGED_SETTINGS)
            if previous is not None:
                cursor.execute(f"DROP TABLE IF EXISTS {CHANGED_TABLE}")
                cursor.execute(*changed_statement(organization_id=organization.pk, asof=now, previous=previous))
                if connection.vendor == "postgresql":
                    cursor.execute(f"ANALYZE {CHANGED_TABLE}")
            cursor.execute(sql, params)
            changed = cursor.rowcount
            if connection.vendor == "sqlite":  # Python's sqlite3 reports no rowcount for a WITH … UPDATE
                cursor.execute("SELECT changes()")
                changed = cursor.fetchone()[0]
            if previous is not None:
                cursor.execute(f"DROP TABLE {CHANGED_TABLE}")
            _settings(cursor, previous_settings)
        return ScoringRun.objects.create(
            organization=organization,
            model=model,
            started_at=now,
            finished_at=timezone.now(),
            scored=Opportunity.objects.filter(organization=organization, stage__in=SCORED_STAGES).count(),
            changed=changed,
            full=previous is None,
            inputs=inputs,
            duration_ms=int((time.monotonic() - started) * 1000),
        )


def last_run(*, organization: Organization) -> ScoringRun | None:
    return ScoringRun.objects.filter(organization=organization).select_related("model").first()
