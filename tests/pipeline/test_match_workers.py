"""The daily match on a cluster of workers: one task per organization, failures isolated, one run per organization
at a time, and a run whose worker died is resumed.

The concurrency tests use real PostgreSQL sessions: a live run is held mid-match by a row lock the test takes on
an opportunity the run must update (a thread, or a separate process that the test then kills with SIGKILL).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from multiprocessing import Queue, Value

import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections, transaction
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Task
from django_q.monitor import monitor
from django_q.signing import SignedPackage
from django_q.worker import worker

from loans.models import Loan
from pipeline import tasks
from pipeline.models import MatchRun, Opportunity
from pipeline.services.matching import MatchAlreadyRunning, match_organization
from tests.factories import (
    LoanFactory,
    LoanOfficerFactory,
    OpportunityFactory,
    OrganizationFactory,
    RateObservationFactory,
    RateSeriesFactory,
    SeriesMappingFactory,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def market(db):  # type: ignore[no-untyped-def]
    series = RateSeriesFactory(code="OBMMIC30YF")
    RateObservationFactory(series=series, date=dt.date(2026, 11, 20), rate=Decimal("6.125"))
    return series


def priced_organization(market, *, loans: int = 2, timezone: str = "America/Chicago"):  # type: ignore[no-untyped-def]
    """An organization whose conforming loans are in the money at the market's 6.125 %."""
    officer = LoanOfficerFactory(branch__organization__timezone=timezone)
    SeriesMappingFactory(organization=officer.organization, series=market)
    for _ in range(loans):
        LoanFactory(loan_officer=officer)
    return officer.organization


def open_opportunities_per_loan(organization) -> list[int]:  # type: ignore[no-untyped-def]
    loans = Loan.objects.filter(organization=organization).order_by("pk")
    return [Opportunity.objects.filter(loan=loan, stage__in=Opportunity.OPEN_STAGES).count() for loan in loans]


# --- fan-out -------------------------------------------------------------------------------------------------


def run_queue_like_a_cluster(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Deliver every queued task the way a qcluster does (django-q2's own pusher steps, worker and monitor, in
    this process): a task that raises is recorded as failed and the next one still runs. Conf.SYNC only keeps
    the test's database connection open (django-q2 closes it between tasks otherwise)."""
    monkeypatch.setattr(Conf, "SYNC", True)
    broker = get_broker()
    task_queue: Queue = Queue()
    result_queue: Queue = Queue()
    while batch := broker.dequeue():
        for ack_id, pack in batch:
            task = SignedPackage.loads(pack)
            task["ack_id"] = ack_id
            task_queue.put(task)
    task_queue.put("STOP")
    worker(task_queue, result_queue, Value("f", -1))
    result_queue.put("STOP")
    monitor(result_queue, broker)


@pytest.mark.django_db
def test_one_organization_failing_never_stops_the_others(frozen, market, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # queue on the ORM broker instead of running inline (test settings)
    first = priced_organization(market)
    broken = OrganizationFactory()  # a lender with nothing yet, removed after the fan-out (below)
    last = priced_organization(market)

    task_ids = tasks.match_all_organizations(None)
    assert len(task_ids) == 3 and not Task.objects.exists()  # queued, one per organization, none run yet
    broken_pk = broken.pk
    broken.delete()  # removed between the fan-out and its task: that task fails, the others must not
    frozen.shift(dt.timedelta(seconds=1))  # the ORM broker hands out rows queued before "now"
    run_queue_like_a_cluster(monkeypatch)

    outcome = {t.name: t.success for t in Task.objects.filter(id__in=task_ids)}
    assert outcome == {
        f"daily-match-{first.slug}": True,
        f"daily-match-{broken.slug}": False,
        f"daily-match-{last.slug}": True,
    }
    assert "does not exist" in Task.objects.get(name=f"daily-match-{broken.slug}").result
    for organization in (first, last):
        assert MatchRun.objects.get(organization=organization).status == MatchRun.Status.SUCCEEDED
        assert open_opportunities_per_loan(organization) == [1, 1]
    assert not Opportunity.objects.filter(organization_id=broken_pk).exists()
    assert not MatchRun.objects.filter(organization_id=broken_pk).exists()


# --- concurrency on PostgreSQL -------------------------------------------------------------------------------


def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("live-claim detection uses PostgreSQL row locks (CI runs on PostgreSQL)")


class Worker(threading.Thread):
    """A match in its own thread and database session, like a django-q2 worker process."""

    def __init__(self, organization) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.organization = organization
        self.run_obj: MatchRun | None = None
        self.error: BaseException | None = None
        self.backend_pid = 0
        self.connected = threading.Event()

    def run(self) -> None:
        try:
            self.backend_pid = connection.cursor().connection.info.backend_pid
            self.connected.set()
            self.run_obj = match_organization(organization=self.organization, trigger=MatchRun.Trigger.SCHEDULE)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc
        finally:
            connections.close_all()


def wait_until_blocked(backend_pid: int, alive: Callable[[], bool]) -> None:
    """Wait (bounded) until the worker's session waits on the row the test holds: it is mid-match then."""
    for _ in range(3000):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # the statistics view is cached per transaction
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [backend_pid])
            row = cursor.fetchone()
        if row and row[0] == "Lock":
            return
        assert alive(), "the worker stopped before it reached the opportunity update"
        time.sleep(0.005)
    raise AssertionError("the worker never reached the opportunity update")


def stale_opportunity(organization) -> Opportunity:  # type: ignore[no-untyped-def]
    """An open opportunity on the organization's first loan whose figures the next match refreshes."""
    loan = Loan.objects.filter(organization=organization).order_by("pk").first()
    return OpportunityFactory(loan=loan, monthly_savings=Decimal("1.00"))


def hold(opportunity: Opportunity) -> None:
    """Lock the opportunity until the test's transaction ends: the match's UPDATE of it waits, mid-run, with
    its claim committed and its run row locked (FK checks are deferred to COMMIT, so a lock they need would
    only stop the run after it wrote its outcome)."""
    list(Opportunity.objects.select_for_update().filter(pk=opportunity.pk))


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claims_of_one_organization_run_it_once(frozen, market):
    postgresql_only()
    organization = priced_organization(market)
    opportunity = stale_opportunity(organization)
    first = Worker(organization)
    with transaction.atomic():
        hold(opportunity)
        first.start()
        assert first.connected.wait(timeout=30)
        wait_until_blocked(first.backend_pid, first.is_alive)  # claimed, holding its run's row lock, inside the match
        with pytest.raises(MatchAlreadyRunning, match="already running"):
            match_organization(organization=organization, trigger=MatchRun.Trigger.USER)
        # A live run is never taken for dead, however long it runs.
        frozen.shift(dt.timedelta(hours=2))
        assert tasks.resume_interrupted_matches() == []
    first.join(timeout=30)
    assert first.error is None and first.run_obj is not None, str(first.error)
    assert list(MatchRun.objects.values_list("status", flat=True)) == [MatchRun.Status.SUCCEEDED]
    assert open_opportunities_per_loan(organization) == [1, 1]


KILLABLE_WORKER = """
import django, sys
django.setup()
from django.db import connection
from core.models import Organization
from pipeline.models import MatchRun
from pipeline.services.matching import match_organization
print(connection.cursor().connection.info.backend_pid, flush=True)
match_organization(organization=Organization.objects.get(pk=int(sys.argv[1])), trigger=MatchRun.Trigger.SCHEDULE)
"""


def start_worker_process(organization) -> tuple[subprocess.Popen, int]:  # type: ignore[no-untyped-def]
    """A match in a separate process on the test database, as a django-q2 worker runs it."""
    db = connection.settings_dict
    url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    process = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_WORKER, str(organization.pk)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    return process, int(process.stdout.readline())


@pytest.mark.django_db(transaction=True)
def test_a_match_whose_worker_was_killed_is_resumed_and_completes_once(market):
    postgresql_only()
    organization = priced_organization(market)
    opportunity = stale_opportunity(organization)
    with transaction.atomic():
        hold(opportunity)
        process, backend_pid = start_worker_process(organization)
        wait_until_blocked(backend_pid, lambda: process.poll() is None)
        process.kill()  # kill -9, mid-match
        process.wait(timeout=30)
    stranded = MatchRun.objects.get()
    assert stranded.status == MatchRun.Status.RUNNING  # its worker never got to say anything
    opportunity.refresh_from_db()
    assert opportunity.monthly_savings == Decimal("1.00")  # its transaction rolled back
    assert Opportunity.objects.count() == 1

    with time_machine.travel(stranded.started_at + dt.timedelta(seconds=10), tick=False):
        assert tasks.resume_interrupted_matches() == []  # within the claim's grace it is left alone
    with time_machine.travel(stranded.started_at + dt.timedelta(minutes=1), tick=False):
        resumed = tasks.resume_interrupted_matches()  # the schedule's next minute; sync in tests

    assert len(resumed) == 1
    stranded.refresh_from_db()
    assert stranded.status == MatchRun.Status.FAILED and "Abandoned" in stranded.error
    rerun = MatchRun.objects.exclude(pk=stranded.pk).get()
    assert (rerun.status, rerun.trigger, rerun.as_of) == (MatchRun.Status.SUCCEEDED, "schedule", stranded.as_of)
    assert open_opportunities_per_loan(organization) == [1, 1]
    opportunity.refresh_from_db()
    assert opportunity.monthly_savings != Decimal("1.00") and opportunity.match_run_id == rerun.pk
    assert tasks.resume_interrupted_matches() == []
