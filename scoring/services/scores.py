"""The nightly scoring: one set-based statement per organization, after the match.

The active model's coefficients go into the statement as parameters: for every open opportunity before
application, score = 1 / (1 + exp(−z)) with z = intercept + Σ weight · (COALESCE(feature, fill) − mean) / scale,
computed by the database from ``scoring.features``; the same statement writes the marked-to-market figures.
Only rows whose score or figures change are written, so a rerun changes nothing. Opportunities at application
or later keep the score they had before (reports group outcomes by it).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.models import Organization
from pipeline.models import Opportunity
from scoring.features import SCORED_STAGES, as_of_values, bind, dialect, features_cte
from scoring.models import PropensityModel, ScoringRun
from scoring.services.training import model_ensure

# PostgreSQL, for the one statement: its cost estimate crosses the JIT threshold, and compiling the expressions
# took longer than evaluating them (0.8 s of a 100k run); the CTEs and hashes of a million rows stay in memory.
STATEMENT_SETTINGS = {"jit": "off", "work_mem": "256MB"}
Z_LIMIT = 35.0  # exp() stays finite; a probability this close to 0 or 1 differs from the exact one below 1e-15
WRITTEN = ("score", "estimated_value", "estimated_value_quarter", "current_ltv", "equity", "cash_out_room")


def probability_sql(model: PropensityModel) -> tuple[str, dict[str, Any]]:
    """The logistic of the model's linear combination, over the ``features`` CTE, with named parameters."""
    d = dialect()
    values: dict[str, Any] = {"intercept": float(model.intercept)}
    terms = ["%(intercept)s"]
    for j, feature in enumerate(model.features):
        values |= {
            f"w{j}": float(feature["weight"]),
            f"i{j}": float(feature["impute"]),
            f"m{j}": float(feature["mean"]),
            f"s{j}": float(feature["scale"]),
        }
        terms.append(f"%(w{j})s * ((COALESCE(f.{feature['name']}, %(i{j})s) - %(m{j})s) / %(s{j})s)")
    z = "\n               + ".join(terms)
    clamped = f"{d['least']}({d['greatest']}({z}, -{Z_LIMIT}), {Z_LIMIT})"
    return f"1.0 / (1.0 + EXP(-({clamped})))", values


def scoring_statement(*, model: PropensityModel, organization_id: int, asof: dt.datetime) -> tuple[str, list[Any]]:
    probability, coefficients = probability_sql(model)
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    table = Opportunity._meta.db_table
    changed = " OR ".join(f"{table}.{column} {distinct} s.{column}" for column in WRITTEN)
    sql = f"""{features_cte(population="open")}, scored AS MATERIALIZED (
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
    """Score every open opportunity of the organization before application with its active model."""
    now = now or timezone.now()
    started = time.monotonic()
    model = model_ensure(organization=organization, now=now)
    sql, params = scoring_statement(model=model, organization_id=organization.pk, asof=now)
    with transaction.atomic():
        with connection.cursor() as cursor:
            previous = _settings(cursor, STATEMENT_SETTINGS)
            cursor.execute(sql, params)
            changed = cursor.rowcount
            if connection.vendor == "sqlite":  # Python's sqlite3 reports no rowcount for a WITH … UPDATE
                cursor.execute("SELECT changes()")
                changed = cursor.fetchone()[0]
            _settings(cursor, previous)
        return ScoringRun.objects.create(
            organization=organization,
            model=model,
            started_at=now,
            finished_at=timezone.now(),
            scored=Opportunity.objects.filter(organization=organization, stage__in=SCORED_STAGES).count(),
            changed=changed,
            duration_ms=int((time.monotonic() - started) * 1000),
        )


def last_run(*, organization: Organization) -> ScoringRun | None:
    return ScoringRun.objects.filter(organization=organization).select_related("model").first()
