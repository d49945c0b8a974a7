"""Entry points of the match: the management command and the django-q2 task functions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django_q.models import Task

from pipeline import tasks
from pipeline.models import MatchRun, Opportunity
from tests.factories import (
    LoanFactory,
    LoanOfficerFactory,
    MatchRunFactory,
    RateObservationFactory,
    RateSeriesFactory,
    SeriesMappingFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced(officer):
    series = RateSeriesFactory(code="OBMMIC30YF")
    SeriesMappingFactory(organization=officer.organization, series=series)
    RateObservationFactory(series=series, date=dt.date(2026, 11, 20), rate=Decimal("6.125"))
    LoanFactory(loan_officer=officer)
    LoanFactory(loan_officer=officer, product_type="jumbo", original_amount=Decimal("1000000.00"))  # jumbo-sized
    return officer.organization


def test_command_prints_the_summary(priced):
    out = StringIO()
    call_command("match", "--org", priced.slug, "--as-of", "2026-11-22", stdout=out)
    text = out.getvalue()
    assert f"Match {priced.slug} as of 2026-11-22" in text
    for line in (
        "considered                     2",
        "matched                        1",
        "new                            1",
    ):
        assert line in text
    assert "no longer qualifying           0" in text
    assert "conforming/360     6.125 %  OBMMIC30YF 2026-11-20" in text
    assert "jumbo/360        no market rate: 1 loans not matched" in text
    assert "seconds" in text
    run = MatchRun.objects.get()
    assert (run.trigger, run.as_of, run.created) == ("command", dt.date(2026, 11, 22), 1)


def test_command_unknown_org():
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        call_command("match", "--org", "nope")


def test_command_refuses_while_a_match_runs(priced):
    MatchRunFactory(organization=priced, status=MatchRun.Status.RUNNING)
    with pytest.raises(CommandError, match="already running"):
        call_command("match", "--org", priced.slug, "--as-of", "2026-11-22", stdout=StringIO())
    assert not Opportunity.objects.exists()


def test_command_rejects_a_bad_date(priced):
    with pytest.raises(CommandError):
        call_command("match", "--org", priced.slug, "--as-of", "22/11/2026")


def test_task_matches_one_organization(priced, manager):
    run_id = tasks.match_organization(priced.pk, "2026-11-22", MatchRun.Trigger.USER, manager.user.pk)
    run = MatchRun.objects.get(pk=run_id)
    assert (run.trigger, run.triggered_by, run.as_of, run.matched) == ("user", manager.user, dt.date(2026, 11, 22), 1)


def test_daily_task_queues_one_task_per_organization_and_skips_a_running_one(priced):
    idle = LoanOfficerFactory().organization
    busy = LoanOfficerFactory().organization
    held = MatchRunFactory(organization=busy, status=MatchRun.Status.RUNNING)
    task_ids = tasks.match_all_organizations("2026-11-22")  # sync in tests: each task runs as it is queued
    done = {t.name: (t.success, t.result) for t in Task.objects.filter(id__in=task_ids)}
    assert set(done) == {f"daily-match-{o.slug}" for o in (priced, idle, busy)}
    assert done[f"daily-match-{busy.slug}"] == (True, None)  # skipped: the running match covers it
    runs = MatchRun.objects.exclude(pk=held.pk)
    assert {r.organization_id for r in runs} == {priced.pk, idle.pk}
    assert {r.trigger for r in runs} == {"schedule"}
    assert Opportunity.objects.count() == 1


def test_daily_refresh_fetches_then_matches_on_business_days(priced):
    from refiapp.tasks import daily_refresh

    with time_machine.travel(dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC), tick=False):  # a Monday
        summary = daily_refresh()
    assert summary.endswith("queued the match of 1 organization(s)")
    assert MatchRun.objects.get().trigger == "schedule"
    # rates, then house prices, then each organization's task: the match, the scoring of what it found, auto-enroll
    assert Task.objects.get(name=f"daily-match-{priced.slug}").result.endswith("scored 1, 0 proactive; enrolled 0")
    assert Opportunity.objects.get().score is not None
    with time_machine.travel(dt.datetime(2026, 11, 28, 11, 0, tzinfo=dt.UTC), tick=False):  # a Saturday
        assert "no match: not a business day" in daily_refresh()
    assert MatchRun.objects.count() == 1
