"""The daily match (DESIGN §4, §5): every loan of one organization against today's market rates, set-based.

This module runs a match: it claims the organization (MatchRun's one-running constraint), reads the handful of
inputs (one market rate per product and term, the threshold bands), hands them to the statements of
``loans.services.match_sql`` as parameters, and records the outcome on the MatchRun. There is no Python loop
over loans anywhere.

Rules decided here (DESIGN §5 leaves them open):

* ARMs are matched like fixed-rate loans and flagged ``is_arm`` (their payment is the note-rate schedule).
* "No refinance of this property in the last 24 months": the loan's own note date is within 24 months of the
  match date and the loan is a refinance (purpose rate-term / cash-out, or created by a refinance in refiapp).
* A loan whose last opportunity was closed (won, lost, archived) within the last 90 days gets no new one.
* The loan-size band is chosen by today's balance; a loan that no band of its product covers is not matched.
* Products without a market rate are skipped entirely: no new opportunities, and their open ones are left as
  they are (the run's ``rates_used`` lists them with the number of loans skipped).
* An opportunity that stops qualifying keeps its stage, its enrollment and the figures of its last qualifying
  match; ``qualifies`` and ``disqualified_at`` say so. When it qualifies again it is refreshed in place.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.models import Organization
from pipeline.models import MatchRun
from pipeline.selectors.thresholds import Band, threshold_bands, threshold_for
from pipeline.services.match_sql import FlatBand, MatchStatements, active_by_product
from rates.selectors import MarketRate, market_rates

ABANDONED_AFTER = dt.timedelta(hours=1)  # without row locks (SQLite): a "running" claim older than this crashed
# With row locks (PostgreSQL): an unlocked "running" claim older than this belongs to a worker that died. The
# grace only covers the instant between the claim's commit and its lock; a claim taken over in that instant
# is given up by its run (match_organization re-checks it under the lock), so nothing ever runs twice.
CLAIM_GRACE = dt.timedelta(seconds=30)
ACTIVE = (MatchRun.Status.QUEUED, MatchRun.Status.RUNNING)  # a claim that blocks another run of the organization


class MatchAlreadyRunning(Exception):
    """Another match of the same organization holds the claim (MatchRun one-running constraint)."""


def flat_threshold_table(bands: list[Band]) -> list[FlatBand]:
    """Rewrite the organization's bands as non-overlapping intervals giving, for every balance, exactly the
    threshold ``threshold_for`` gives (the first band in order that contains it), so the SQL join yields at
    most one threshold per loan even when an admin entered overlapping bands."""
    table: list[FlatBand] = []
    for product in sorted({b.product_type for b in bands}):
        own = [b for b in bands if b.product_type == product]
        points = sorted({b.min_balance for b in own} | {b.max_balance for b in own if b.max_balance is not None})
        for start, end in zip(points, [*points[1:], None], strict=True):
            spread = threshold_for(bands=own, product_type=product, balance=start)
            if spread is None:
                continue
            last = table[-1] if table else None
            if last and last.product_type == product and last.max_balance == start and last.min_spread == spread:
                table[-1] = FlatBand(product, last.min_balance, end, spread)
            else:
                table.append(FlatBand(product, start, end, spread))
    return table


def match_as_of_default(organization: Organization) -> dt.date:
    """Today in the organization's timezone."""
    return organization.today()


def match_organization(
    *,
    organization: Organization,
    as_of: dt.date | None = None,
    trigger: str = MatchRun.Trigger.COMMAND,
    triggered_by: Any = None,
) -> MatchRun:
    """Run the match for one organization and return its MatchRun (status succeeded, or failed and re-raised).

    Raises MatchAlreadyRunning when another run of this organization holds the claim.
    """
    as_of = as_of or match_as_of_default(organization)
    run = _claim(organization=organization, as_of=as_of, trigger=trigger, triggered_by=triggered_by)
    return match_run_execute(run=run, organization=organization)


def match_run_execute(*, run: MatchRun, organization: Organization | None = None) -> MatchRun:
    """Do the work of a claimed (running) MatchRun and record its outcome (failed runs re-raise)."""
    organization = organization or run.organization
    as_of = run.as_of
    started = time.monotonic()
    try:
        with transaction.atomic():
            # The row lock is the claim's heartbeat: held until the outcome commits with the writes, released
            # by PostgreSQL when this worker dies, so match_claims_release_abandoned can tell a live run from
            # a dead one. A claim released in the instant before this lock (taken over) is not ours any more.
            locked = MatchRun.objects.select_for_update().get(pk=run.pk)
            if locked.status != MatchRun.Status.RUNNING:
                raise MatchAlreadyRunning(f"The match claim of {organization} was taken over before it started.")
            rates = market_rates(organization=organization, as_of=as_of)
            bands = flat_threshold_table(threshold_bands(organization=organization))
            active = active_by_product(organization)
            statements = MatchStatements(
                organization=organization, run=run, as_of=as_of, rates=rates, bands=bands, active=active
            )
            counts = statements.run()
            run.status = MatchRun.Status.SUCCEEDED
            run.rates_used = _rates_used(rates=rates, active=active)
            run.considered = counts["considered"]
            run.matched = counts["matched"]
            run.created = counts["created"]
            run.updated = counts["updated"]
            run.expired = counts["expired"]
            run.finished_at = timezone.now()
            run.duration_ms = int((time.monotonic() - started) * 1000)
            run.full_clean()
            run.save()
    except MatchAlreadyRunning:
        raise
    except Exception as exc:
        MatchRun.objects.filter(pk=run.pk, status=MatchRun.Status.RUNNING).update(
            status=MatchRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        raise
    return run


def match_start(*, organization: Organization, user: Any = None) -> tuple[MatchRun, bool]:
    """ "Run match now": claim the organization's run at once (``queued``) and queue its work after commit.

    Returns (run, started). When a run is already going (a double click, a second manager, the daily run), that
    run is returned with ``started`` False and nothing is queued: one click, one run. The page follows the run
    by its id while the worker does the work (``pipeline.tasks.match_claimed_run``).
    """
    try:
        run = _claim(
            organization=organization,
            as_of=match_as_of_default(organization),
            trigger=MatchRun.Trigger.USER,
            triggered_by=user,
            status=MatchRun.Status.QUEUED,
        )
    except MatchAlreadyRunning:
        running = MatchRun.objects.filter(organization=organization, status__in=ACTIVE).first()
        if running is None:  # it finished between the INSERT and this read
            running = MatchRun.objects.filter(organization=organization).order_by("-started_at", "-pk").first()
        return running, False  # type: ignore[return-value]

    def enqueue() -> None:
        from django_q.tasks import async_task

        async_task("pipeline.tasks.match_claimed_run", run.pk, task_name=f"match-{organization.slug}-{run.pk}")

    transaction.on_commit(enqueue)
    return run, True


def match_queued_run_start(*, run_id: int) -> MatchRun | None:
    """A worker takes a queued "Run match now" run: ``queued`` → ``running`` (a conditional UPDATE, so a
    redelivered task finds nothing to take) and does its work."""
    taken = MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.QUEUED).update(
        status=MatchRun.Status.RUNNING, started_at=timezone.now()
    )
    if not taken:
        return None
    return match_run_execute(run=MatchRun.objects.select_related("organization").get(pk=run_id))


def match_enqueue(*, organization: Organization, trigger: str = MatchRun.Trigger.USER, user: Any = None) -> str:
    """Queue the match of one organization on django-q2 (call it from ``transaction.on_commit``)."""
    from django_q.tasks import async_task

    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    return async_task(
        "pipeline.tasks.match_organization",
        organization.pk,
        None,
        trigger,
        user_id,
        task_name=f"match-{organization.slug}",
    )


def match_claims_release_abandoned(*, organization: Organization | None = None) -> list[MatchRun]:
    """Mark failed every ``running`` claim whose worker is gone, and return them (to be run again).

    On PostgreSQL a live run holds its row locked (see match_organization), so a running row older than
    CLAIM_GRACE that is not locked belongs to a worker that died (kill -9, lost machine): its transaction
    rolled back and nothing of it was written. Without row locks (SQLite) a claim older than ABANDONED_AFTER
    counts as abandoned.
    """
    row_locks = connection.features.has_select_for_update_skip_locked
    running = MatchRun.objects.filter(
        status=MatchRun.Status.RUNNING, started_at__lt=timezone.now() - (CLAIM_GRACE if row_locks else ABANDONED_AFTER)
    )
    if organization is not None:
        running = running.filter(organization=organization)
    # A "Run match now" no worker picked up within the hour (a lost queue message) is failed, not re-run.
    lost = MatchRun.objects.filter(status=MatchRun.Status.QUEUED, started_at__lt=timezone.now() - ABANDONED_AFTER)
    if organization is not None:
        lost = lost.filter(organization=organization)
    lost.update(status=MatchRun.Status.FAILED, error="Never picked up by a worker.", finished_at=timezone.now())
    with transaction.atomic():
        # skip_locked: rows a live run holds are skipped, never waited for.
        abandoned = list(running.select_for_update(skip_locked=True).order_by("pk"))
        MatchRun.objects.filter(pk__in=[r.pk for r in abandoned]).update(
            status=MatchRun.Status.FAILED,
            error="Abandoned: the worker running this match stopped before it finished; nothing of it was written.",
            finished_at=timezone.now(),
        )
    return abandoned


def _claim(
    *,
    organization: Organization,
    as_of: dt.date,
    trigger: str,
    triggered_by: Any,
    status: str = MatchRun.Status.RUNNING,
) -> MatchRun:
    """Insert this run as ``running`` (or ``queued``); the partial unique constraint refuses a second one."""
    match_claims_release_abandoned(organization=organization)
    user = triggered_by if getattr(triggered_by, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            return MatchRun.objects.create(
                organization=organization,
                as_of=as_of,
                status=status,
                trigger=trigger,
                triggered_by=user,
                rule=organization.matching_rule,
            )
    except IntegrityError as exc:
        running = MatchRun.objects.filter(organization=organization, status__in=ACTIVE).first()
        since = f" since {running.started_at:%Y-%m-%d %H:%M:%S} UTC" if running else ""
        raise MatchAlreadyRunning(f"A match for {organization} is already running{since}; try again later.") from exc


def _rates_used(*, rates: dict[tuple[str, int], MarketRate], active: list[dict[str, Any]]) -> dict[str, Any]:
    """{product/term: {series, date, rate, fallback}}; products with active loans but no rate: series null and
    the number of loans skipped."""
    used: dict[str, Any] = {
        f"{product}/{term}": {
            "series": r.series_code,
            "date": r.date.isoformat(),
            "rate": str(r.rate),
            "fallback": r.is_fallback,
        }
        for (product, term), r in sorted(rates.items())
    }
    for row in active:
        key = (row["product_type"], row["bucket"])
        if key not in rates:
            used[f"{key[0]}/{key[1]}"] = {"series": None, "date": None, "rate": None, "loans_skipped": row["n"]}
    return used
