"""django-q2 task functions: they only fetch ids and call services (STYLE §10)."""

from __future__ import annotations

import datetime as dt
import logging

from core.calendar import is_business_day
from core.models import Organization
from pipeline.models import MatchRun
from pipeline.services.matching import MatchAlreadyRunning, match_claims_release_abandoned, match_queued_run_start
from pipeline.services.matching import match_organization as match_service

logger = logging.getLogger(__name__)


def match_all_organizations(
    as_of: str | None = None, task: str = "pipeline.tasks.match_organization", business_days_only: bool = False
) -> list[str]:
    """Fan the daily match out: one django-q2 task per organization (``task(organization_id, as_of)``), so
    every worker of the cluster, on any machine, takes a share. Each organization's match is its own task, so
    one that fails never stops another; the MatchRun claim keeps one organization from running twice at once.
    With ``business_days_only``, an organization where today (in its own zone) is a weekend day or a US federal
    holiday gets no task. Returns the queued task ids."""
    from django_q.tasks import async_task

    queued = []
    for organization in Organization.objects.order_by("pk"):
        if business_days_only and not is_business_day(organization.today()):
            logger.info("match skipped: %s is not a business day for %s", organization.today(), organization.slug)
            continue
        name = f"daily-match-{organization.slug}"[:100]
        queued.append(async_task(task, organization.pk, as_of, task_name=name))
    return queued


def match_organization(
    organization_id: int,
    as_of: str | None = None,
    trigger: str = MatchRun.Trigger.SCHEDULE,
    triggered_by_id: int | None = None,
) -> int | None:
    """Match one organization (``as_of`` ISO date, default today in its timezone); returns the MatchRun id, or
    None when another run of the organization holds the claim (that run covers it)."""
    from django.contrib.auth import get_user_model

    organization = Organization.objects.get(pk=organization_id)
    user = get_user_model().objects.filter(pk=triggered_by_id).first() if triggered_by_id else None
    try:
        run = match_service(
            organization=organization,
            as_of=dt.date.fromisoformat(as_of) if as_of else None,
            trigger=trigger,
            triggered_by=user,
        )
    except MatchAlreadyRunning as exc:
        logger.info("match skipped: %s", exc)
        return None
    return run.pk


def match_claimed_run(run_id: int) -> int | None:
    """The work of a run queued by "Run match now". A redelivered task (at-least-once broker) finds the run no
    longer queued and does nothing."""
    run = match_queued_run_start(run_id=run_id)
    return run.pk if run is not None else None


def resume_interrupted_matches() -> list[str]:
    """Every minute (refiapp.schedules "resume-interrupted-matches"): a match whose worker died mid-run (kill -9,
    lost machine; the Redis broker does not re-deliver) is marked failed and queued again with the same date
    and trigger. Returns the queued task ids."""
    from django_q.tasks import async_task

    queued = []
    for run in match_claims_release_abandoned():
        logger.warning(
            "match %s of organization %s was abandoned by its worker; queued again", run.pk, run.organization_id
        )
        queued.append(
            async_task(
                "pipeline.tasks.match_organization",
                run.organization_id,
                run.as_of.isoformat(),
                run.trigger,
                run.triggered_by_id,
                task_name=f"resume-match-{run.organization_id}",
            )
        )
    return queued
