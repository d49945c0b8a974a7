"""The 18-month check: every active loan whose note date is ``review_after_months`` old (the organization's
setting) is checked once against today's market rate, with the daily match's own numbers.

One transaction, a few set-based statements that run on PostgreSQL and SQLite alike, no loop over loans:

1. the match's qualifying select (``pipeline.services.match_sql.MatchStatements``: the same rates, bands, rule
   and figures) limited to the loans due a review, into the match's temporary work table;
2. the match's own insert of new opportunities (and their ``matched`` entries) for the due loans that clear the
   threshold and have none open;
3. ``INSERT … WITH … SELECT … ON CONFLICT (loan_id) DO NOTHING`` of one ``LoanReview`` per due loan with a
   market rate: the rate in force, the market rate, the spread it saw and whether it cleared (the ledger:
   checked once);
4. the cleared loans' open opportunities flagged (``review_flag``, ``reviewed_at``, attention) with one
   ``UPDATE … WHERE id IN (SELECT …)``, one call task each on their timeline with one ``INSERT … SELECT``, and
   their ledger rows linked with one ``UPDATE … FROM`` (plain statements: SQLite has no data-modifying CTEs).

A loan whose product has no market rate today is not checked yet (it is checked once a rate exists). Runs of
one organization are serialised by a row lock on the organization; a rerun finds no loan due.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection, transaction

from automations.models import LoanReview
from core.choices import ProductType
from core.models import Organization
from pipeline.models import Activity
from pipeline.selectors.thresholds import threshold_bands
from pipeline.services.match_sql import WORK_TABLE, MatchStatements, active_by_product
from pipeline.services.matching import flat_threshold_table
from rates.selectors import market_rates

REVIEW_ATTENTION = "18-month review: clears the threshold at today's rate"


@dataclass
class ReviewResult:
    as_of: dt.date
    checked: int = 0
    cleared: int = 0
    flagged: int = 0
    opportunities_created: int = 0

    @property
    def not_cleared(self) -> int:
        return self.checked - self.cleared


@dataclass(frozen=True)
class _NoRun:
    """The review is not a match run: its opportunities carry no MatchRun."""

    pk: None = None


class ReviewStatements(MatchStatements):
    """The match's statements restricted to the loans due a review (note date on or before the cutoff, never
    reviewed)."""

    def __init__(self, *, cutoff: dt.date, months: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        ops = connection.ops
        self.params["review_cutoff"] = ops.adapt_datefield_value(cutoff)
        self.params["review_months"] = months
        self.params["review_data"] = json.dumps({"automation": "loan_review", "months": months})
        self.params["review_body"] = (
            f"Call this borrower: the {months}-month review finds the loan clearing the threshold at today's rate."
        )
        self.params["review_attention"] = REVIEW_ATTENTION

    def _due(self, alias: str) -> str:
        return (
            f" AND {alias}.note_date <= %(review_cutoff)s"
            f" AND NOT EXISTS (SELECT 1 FROM {LoanReview._meta.db_table} r WHERE r.loan_id = {alias}.id)"
        )

    def _stage1(self) -> str:
        return super()._stage1().rstrip() + self._due("l") + "\n"

    def _ledger_insert(self, inputs: str) -> str:
        """The ledger rows of the due loans with a market rate. The CTEs go inside the INSERT (``INSERT … WITH …
        SELECT``): SQLite's driver reports no row count for a statement that starts with WITH."""
        bucket = "CASE WHEN l.term_months <= 180 THEN 180 ELSE 360 END"
        jumbo = f"l.product_type = '{ProductType.JUMBO}'"
        market_rate = f"COALESCE(CASE WHEN {jumbo} THEN m.j_rate END, m.a_rate, m.j_rate)"
        market_series = f"COALESCE(CASE WHEN {jumbo} THEN m.j_series END, m.a_series, m.j_series)"
        rate_used = (
            "CASE WHEN l.amortization = 'arm' AND l.current_rate IS NOT NULL THEN l.current_rate ELSE l.note_rate END"
        )
        # SQLite subtracts doubles: the spread is rounded to the thousandths of a point it is stored in.
        spread = f"{rate_used} - {market_rate}" if self.pg else f"round({rate_used} - {market_rate}, 3)"
        return f"""
            INSERT INTO {LoanReview._meta.db_table} (organization_id, loan_id, checked_on, months, note_rate,
                market_series, market_rate, spread, cleared, opportunity_id, created_at)
            WITH {inputs}
            SELECT %(org)s, l.id, %(as_of)s, %(review_months)s, {rate_used},
                   COALESCE(t.market_series, {market_series}, ''), COALESCE(t.market_rate, {market_rate}),
                   COALESCE(t.spread, {spread}), t.loan_id IS NOT NULL, NULL, %(now)s
            FROM loans_loan l
            JOIN market m ON m.family = {self._family("l.product_type")} AND m.bucket = {bucket}
            LEFT JOIN {WORK_TABLE} t ON t.loan_id = l.id
            WHERE l.organization_id = %(org)s AND l.status = 'active' {self._due("l")}
            ON CONFLICT (loan_id) DO NOTHING
        """

    def _new_rows(self) -> str:
        """No MatchRun to find the new opportunities by (SQLite): the open opportunity of each work-table loan
        that had none, first matched by this statement."""
        return (
            f"FROM pipeline_opportunity w JOIN {WORK_TABLE} t ON t.loan_id = w.loan_id"
            f" WHERE t.opp_id IS NULL AND w.stage IN {self._in(self.OPEN_STAGES)} AND w.first_matched_at = %(now)s"
        )

    def _flag(self, cursor: Any) -> int:
        """Flags the cleared loans' open opportunities, adds one call task each and links their ledger rows: three
        set-based statements (both databases); returns the number flagged. The flagged rows are the ones this
        run stamped (``reviewed_at = now``) whose ledger row is not linked yet, so a rerun adds no task."""
        reviews = LoanReview._meta.db_table
        fresh = "r.organization_id = %(org)s AND r.created_at = %(now)s AND r.cleared AND r.opportunity_id IS NULL"
        flagged = self._execute(
            cursor,
            f"""
            UPDATE pipeline_opportunity
               SET review_flag = {self._true()}, reviewed_at = %(now)s, attention_reason = %(review_attention)s,
                   attention_at = %(now)s, updated_at = %(now)s
             WHERE id IN (
                SELECT o.id FROM pipeline_opportunity o JOIN {reviews} r ON r.loan_id = o.loan_id
                 WHERE {fresh} AND o.organization_id = %(org)s AND o.stage IN {self._in(self.OPEN_STAGES)}
                   AND NOT o.review_flag)
            """,
        )
        stamped = (
            f"o.loan_id = r.loan_id AND {fresh} AND o.organization_id = %(org)s AND o.review_flag"
            " AND o.reviewed_at = %(now)s"
        )
        data = "CAST(%(review_data)s AS jsonb)" if self.pg else "%(review_data)s"
        self._execute(
            cursor,
            f"""
            INSERT INTO pipeline_activity (organization_id, opportunity_id, borrower_id, kind, channel,
                from_stage, to_stage, body, data, occurred_at, created_at)
            SELECT o.organization_id, o.id, o.borrower_id, '{Activity.Kind.CALL_TASK}', '', '', '',
                   %(review_body)s, {data}, %(now)s, %(now)s
              FROM pipeline_opportunity o JOIN {reviews} r ON {stamped}
            """,
        )
        self._execute(
            cursor, f"UPDATE {reviews} AS r SET opportunity_id = o.id FROM pipeline_opportunity o WHERE {stamped}"
        )
        return flagged

    def review(self) -> ReviewResult:
        result = ReviewResult(as_of=self.as_of)
        if not self.rates or not self.bands:
            return result
        inputs = self._inputs_cte()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {WORK_TABLE}")
            self._execute(cursor, f"CREATE TEMPORARY TABLE {WORK_TABLE} AS WITH {inputs},\n{self._qualifying_select()}")
            cursor.execute(f"CREATE INDEX {WORK_TABLE}_loan ON {WORK_TABLE} (loan_id)")
            result.opportunities_created = self._insert_new(cursor)
            result.checked = self._execute(cursor, self._ledger_insert(inputs))
            cursor.execute(
                f"SELECT COUNT(*) FROM {LoanReview._meta.db_table} WHERE organization_id = %(org)s"
                " AND created_at = %(now)s AND cleared",
                self.params,
            )
            result.cleared = cursor.fetchone()[0]
            result.flagged = self._flag(cursor)
            cursor.execute(f"DROP TABLE {WORK_TABLE}")
        return result


def reviews_run(*, organization: Organization, today: dt.date | None = None) -> ReviewResult:
    """Check every loan due a review today (the organization's date); a rerun checks nothing new."""
    today = today or organization.today()
    months = organization.review_after_months
    with transaction.atomic():
        # One review at a time per organization (a second worker waits, then finds nothing due).
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        statements = ReviewStatements(
            cutoff=today - relativedelta(months=months),
            months=months,
            organization=organization,
            run=_NoRun(),
            as_of=today,
            rates=market_rates(organization=organization, as_of=today),
            bands=flat_threshold_table(threshold_bands(organization=organization)),
            active=active_by_product(organization),
        )
        return statements.review()
