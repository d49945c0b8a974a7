"""django-q2 task functions: they only fetch ids and call services (STYLE §10)."""

from __future__ import annotations

import datetime as dt
import logging

from core.calendar import is_business_day
from core.models import Organization
from pipeline.models import MatchRun
from pipeline.services.matching import MatchAlreadyRunning
from pipeline.services.matching import match_organization as match_service

logger = logging.getLogger(__name__)


def match_all_organizations(as_of: str | None = None, business_days_only: bool = False) -> list[int]:
    """The daily match, run right after the rate fetch: one match per organization. An organization whose
    match is already running is skipped (its running match covers today); another's failure does not stop the
    rest. With ``business_days_only``, an organization where today (in its own zone) is a weekend day or a US
    federal holiday is skipped. Returns the ids of the MatchRuns that succeeded."""
    runs = []
    for organization in Organization.objects.order_by("pk"):
        if business_days_only and not is_business_day(organization.today()):
            logger.info("match skipped: %s is not a business day for %s", organization.today(), organization.slug)
            continue
        org_id = organization.pk
        try:
            run = match_organization(org_id, as_of=as_of, trigger=MatchRun.Trigger.SCHEDULE)
        except MatchAlreadyRunning as exc:
            logger.info("match skipped: %s", exc)
            continue
        except Exception:
            logger.exception("match failed for organization %s", org_id)
            continue
        runs.append(run)
    return runs


def match_organization(
    organization_id: int,
    as_of: str | None = None,
    trigger: str = MatchRun.Trigger.SCHEDULE,
    triggered_by_id: int | None = None,
) -> int:
    """Match one organization (``as_of`` ISO date, default today in its timezone); returns the MatchRun id."""
    from django.contrib.auth import get_user_model

    organization = Organization.objects.get(pk=organization_id)
    user = get_user_model().objects.filter(pk=triggered_by_id).first() if triggered_by_id else None
    run = match_service(
        organization=organization,
        as_of=dt.date.fromisoformat(as_of) if as_of else None,
        trigger=trigger,
        triggered_by=user,
    )
    return run.pk
