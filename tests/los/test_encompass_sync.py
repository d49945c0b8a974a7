"""An Encompass sync end to end: the real client against the local fake Encompass, the real file importer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from loans.models import Loan, LoanImport
from los.models import Application, LosConnection, LosSync
from los.services.connections import los_connection_save
from los.services.sync import los_sync_run
from tests.factories import LoanOfficerFactory
from tests.los.conftest import CLIENT_ID, INSTANCE, SECRET, active_loan, closed_loan

pytestmark = [pytest.mark.django_db]
NOW = dt.datetime(2025, 10, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def connection(admin, fake) -> LosConnection:
    connection, _ = los_connection_save(
        organization=admin.organization,
        kind=LosConnection.Kind.ENCOMPASS,
        base_url=fake.base_url,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        instance_id=INSTANCE,
    )
    return connection


def run(connection: LosConnection, sleeps: list[float] | None = None) -> LosSync:
    connection.refresh_from_db()
    options = {"sleep": (sleeps if sleeps is not None else []).append, "page_size": 2}
    with time_machine.travel(NOW, tick=False):
        return los_sync_run(connection=connection, trigger=LosSync.Trigger.COMMAND, client_options=options)


def test_first_sync_pulls_everything_closed_to_portfolio_active_to_applications(admin, fake, connection):
    officer = LoanOfficerFactory(organization=admin.organization, display_name="Olivia Bennett", branch=None)
    fake.loans += [
        closed_loan("g-1", "5820000101", "2025-09-10T08:00:00Z"),
        closed_loan("g-2", "5820000102", "2025-09-11T08:00:00Z", **{"Fields.1172": "FHA", "Fields.4": "180"}),
        closed_loan("g-3", "5820000103", "2025-09-12T08:00:00Z", **{"Fields.3": "6.8755"}),  # 4 decimals
        active_loan("g-4", "5820000104", "2025-09-20T08:00:00Z", **{"Loan.LoanOfficerName": "olivia bennett"}),
        active_loan("g-5", "5820000105", "2025-09-13T08:00:00Z", **{"Fields.762": "2025-13-40"}),
    ]
    sync = run(connection)

    assert sync.status == LosSync.Status.SUCCEEDED, sync.message
    assert (sync.total_rows, sync.created_count, sync.updated_count, sync.unchanged_count) == (5, 2, 0, 0)
    assert sync.rejected_count == 2
    assert {(e["loan_number"], e["column"]) for e in sync.errors} == {
        ("5820000103", "Fields.3"),
        ("5820000105", "Fields.762"),
    }
    assert "more than 3 decimal places" in next(e for e in sync.errors if e["column"] == "Fields.3")["message"]
    assert (sync.applications_created, sync.applications_updated) == (1, 0)
    assert sync.message == "5 loan(s) from Encompass: 3 closed (portfolio), 2 active (applications)."

    loan = Loan.objects.select_related("borrower").get(loan_number="5820000101")
    assert (loan.original_amount, loan.note_rate, loan.term_months) == (Decimal("412000.00"), Decimal("6.875"), 360)
    assert (loan.note_date, loan.first_payment_date) == (dt.date(2023, 10, 16), dt.date(2023, 12, 1))
    assert (loan.product_type, loan.property_value) == ("conforming", Decimal("520000.00"))  # 1821 when 356 blank
    assert (loan.property_city, loan.property_state, loan.property_zip) == ("Chicago", "IL", "60607")
    assert (loan.borrower.first_name, loan.borrower.mobile_phone) == ("Maria", "+13125550142")
    assert Loan.objects.get(loan_number="5820000102").product_type == "fha"
    assert sync.loan_import.status == LoanImport.Status.COMMITTED and sync.loan_import.filename.startswith("encompass")

    application = Application.objects.get()
    assert (application.loan_guid, application.loan_number, application.milestone) == (
        "g-4",
        "5820000104",
        "Processing",
    )
    assert (application.lock_date, application.lock_expiration) == (dt.date(2025, 9, 2), dt.date(2025, 10, 2))
    assert (application.loan_officer, application.borrower_email) == (officer, "maria5820000104@example.com")
    assert application.last_modified == dt.datetime(2025, 9, 20, 8, tzinfo=dt.UTC)

    connection.refresh_from_db()
    assert connection.modified_watermark == dt.datetime(2025, 9, 20, 8, tzinfo=dt.UTC)
    assert connection.last_success_at == NOW


def test_next_sync_asks_only_for_what_changed_and_changes_only_that(admin, fake, connection):
    fake.loans += [
        closed_loan("g-1", "5820000101", "2025-09-10T08:00:00Z"),
        active_loan("g-2", "5820000102", "2025-09-20T08:00:00Z"),
        active_loan("g-3", "5820000103", "2025-09-19T08:00:00Z"),
    ]
    run(connection)
    stamp = Loan.objects.get().updated_at
    # Encompass: g-2 closes (a closed date), g-1 is untouched, g-3 gets a new lock expiration.
    fake.loans[1]["fields"].update(
        {"Fields.748": "09/25/2025", "Fields.682": "11/01/2025", "Loan.LastModified": "2025-09-26T09:00:00Z"}
    )
    fake.loans[2]["fields"].update({"Fields.762": "10/20/2025", "Loan.LastModified": "2025-09-25T09:00:00Z"})

    sync = run(connection)
    assert fake.seen("cursor")[-1].body["filter"]["value"] == "2025-09-20T08:00:00Z"
    assert sync.total_rows == 2  # g-2 and g-3; g-1 was not asked for
    assert (sync.created_count, sync.updated_count, sync.unchanged_count, sync.rejected_count) == (1, 0, 0, 0)
    assert (sync.applications_created, sync.applications_updated, sync.applications_unchanged) == (0, 1, 0)
    assert Loan.objects.get(loan_number="5820000101").updated_at == stamp
    assert Loan.objects.filter(loan_number="5820000102").exists()
    assert Application.objects.get(loan_guid="g-2").status == Application.Status.CLOSED
    assert Application.objects.get(loan_guid="g-3").lock_expiration == dt.date(2025, 10, 20)

    again = run(connection)  # nothing new in Encompass: the rows at the watermark are read again, nothing changes
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 1)
    assert again.applications_updated == 0


def test_a_refusal_fails_the_sync_with_encompass_words_and_keeps_the_watermark(admin, fake, connection):
    fake.loans.append(closed_loan("g-1", "5820000101", "2025-09-10T08:00:00Z"))
    run(connection)
    fake.fail_next("cursor", 403, {"summary": "Forbidden", "details": "API user lacks Pipeline access"})
    sync = run(connection)
    assert sync.status == LosSync.Status.FAILED
    assert "HTTP 403): Forbidden — API user lacks Pipeline access" in sync.message
    assert SECRET not in sync.message
    connection.refresh_from_db()
    assert connection.modified_watermark == dt.datetime(2025, 9, 10, 8, tzinfo=dt.UTC)
    assert not LosSync.objects.filter(status=LosSync.Status.RUNNING).exists()


def test_a_malformed_page_imports_nothing(admin, fake, connection):
    fake.loans += [closed_loan(f"g-{n}", f"582000010{n}", f"2025-09-1{n}T08:00:00Z") for n in range(4)]
    fake.malformed_page_at = 2
    sync = run(connection)
    assert sync.status == LosSync.Status.FAILED
    assert "malformed page for the pipeline page at start=2 (of 4)" in sync.message
    assert not Loan.objects.exists()
    connection.refresh_from_db()
    assert connection.modified_watermark is None


def test_retries_inside_a_sync_do_not_sleep_in_tests(admin, fake, connection):
    fake.loans.append(closed_loan("g-1", "5820000101", "2025-09-10T08:00:00Z"))
    fake.fail_next("page", 429, {"summary": "Too Many Requests"}, {"Retry-After": "3"})
    fake.fail_next("page", 500, {"summary": "Internal Server Error"})
    sleeps: list[float] = []
    sync = run(connection, sleeps)
    assert sync.status == LosSync.Status.SUCCEEDED and sync.created_count == 1
    assert sleeps == [3.0, 4.0]


def test_a_second_sync_of_the_same_connection_is_refused_while_one_runs(admin, fake, connection):
    from los.services.sync import SyncRefused

    LosSync.objects.create(
        organization=admin.organization, connection=connection, trigger=LosSync.Trigger.SCHEDULE, started_at=NOW
    )
    with pytest.raises(SyncRefused, match="already syncing"):
        run(connection)
