"""Local time that is really local (issue 17): the borrower's zone from their ZIP, the hours that are 8am–9pm in
every zone of a split state when the ZIP is unknown, no sends on US federal holidays (nor, by organization
setting, on Sundays), the daily match's business day in the organization's zone, and engagement that pauses the
sequence instead of ending it."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core import mail

from core.calendar import federal_holiday, is_business_day
from core.us_states import SPLIT_STATE_ZONES, state_zones
from loans.models import Borrower
from loans.services.imports import loan_import_commit, loan_import_preview
from outreach.models import Enrollment, LocalSms, Message
from outreach.sendwindow import send_wait, zones_for
from outreach.services.dispatch import dispatch_due_messages
from outreach.services.engagement import engagement_record
from outreach.services.enrollments import enrollment_create, enrollment_resume
from pipeline.models import Activity, MatchRun
from tests.factories import LoanFactory, OpportunityFactory, OrgAdminFactory, OrganizationFactory
from tests.outreach.conftest import fresh_rates, make_sequence

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def sms_opportunity(officer, **borrower):  # type: ignore[no-untyped-def]
    opp = OpportunityFactory(
        loan=LoanFactory(loan_officer=officer, **{f"borrower__{k}": v for k, v in borrower.items()})
    )
    fresh_rates(opp.organization)
    enrollment_create(opportunity=opp, sequence=make_sequence(opp.organization, [(1, "sms")]))
    Message.objects.update(due_at=dt.datetime(2026, 11, 1, tzinfo=UTC))
    return opp


# --- the zone from the ZIP ---------------------------------------------------------------------------------


@time_machine.travel(dt.datetime(2026, 11, 2, 12, tzinfo=UTC), tick=False)
def test_import_takes_the_zone_from_the_mailing_zip_else_the_property_zip(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    admin = OrgAdminFactory()
    text = (
        "Loan Number,Borrower Name,Mailing State,Mailing Zip,Property Zip,Note Date,Loan Amount,Note Rate,Term\n"
        "LN-1,Ana Diaz,TX,79901,,2023-01-05,300000,6.5,360\n"  # El Paso: Mountain time
        "LN-2,Bo Lee,FL,,32501,2023-01-05,300000,6.5,360\n"  # Pensacola (property): Central time
        "LN-3,Cy Ray,TX,,,2023-01-05,300000,6.5,360\n"  # Texas without a ZIP: unknown
        "LN-4,Di Fox,IL,,,2023-01-05,300000,6.5,360\n"  # Illinois has one zone
    )
    handle = io.BytesIO(text.encode())
    handle.name = "export.csv"
    loan_import_commit(loan_import=loan_import_preview(organization=admin.organization, file=handle, user=admin.user))
    zones = dict(Borrower.objects.values_list("last_name", "timezone"))
    assert zones == {"Diaz": "America/Denver", "Lee": "America/Chicago", "Ray": "", "Fox": "America/Chicago"}
    assert Borrower.objects.get(last_name="Diaz").mailing_zip == "79901"


def test_split_state_zones_agree_with_the_zip_dataset():
    import zipcodes

    seen: dict[str, set[str]] = {}
    for place in zipcodes.list_all():
        if place["timezone"].count("/") >= 1:  # an IANA name (the dataset has one stray value)
            seen.setdefault(place["state"], set()).add(place["timezone"])
    split = {state: zones for state, zones in seen.items() if len(zones) > 1}
    assert {state: set(zones) for state, zones in SPLIT_STATE_ZONES.items()} == split
    assert state_zones("IL") == ("America/Chicago",)


def test_unknown_zone_sends_only_when_it_is_8am_to_9pm_everywhere_in_the_state(officer, time_machine):
    # Monday 2026-11-23 14:30 UTC: 8:30 in Chicago, 7:30 in Denver (El Paso).
    time_machine.move_to(dt.datetime(2026, 11, 23, 14, 30, tzinfo=UTC), tick=False)
    opp = sms_opportunity(officer, timezone="", mailing_state="TX")
    assert [z.key for z in zones_for(borrower=opp.borrower, organization=opp.organization)] == [
        "America/Chicago",
        "America/Denver",
    ]
    assert dispatch_due_messages().sent == 0
    message = Message.objects.get()
    assert (message.due_at, message.hold_reason) == (
        dt.datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
        "Quiet hours: waits for 8:00 America/Denver.",
    )
    time_machine.move_to(dt.datetime(2026, 11, 23, 15, 0, tzinfo=UTC), tick=False)
    assert dispatch_due_messages().sent == 1


def test_a_known_zone_is_used_as_is(officer, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 23, 14, 30, tzinfo=UTC), tick=False)  # 8:30 in Chicago
    sms_opportunity(officer, timezone="America/Chicago", mailing_state="TX")
    assert dispatch_due_messages().sent == 1


# --- holidays and Sundays --------------------------------------------------------------------------------------


def test_no_sends_on_a_federal_holiday(officer, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 26, 18, 0, tzinfo=UTC), tick=False)  # Thanksgiving, noon in Chicago
    opp = sms_opportunity(officer, timezone="America/Chicago")
    assert dispatch_due_messages().sent == 0
    message = Message.objects.get()
    assert message.due_at == dt.datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # Friday 8:00 Chicago
    assert message.hold_reason.startswith("US federal holiday (Thanksgiving Day)")
    assert opp.organization.skip_sundays is False


def test_sundays_only_by_organization_setting(officer, time_machine):
    sunday_noon = dt.datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    time_machine.move_to(sunday_noon, tick=False)
    opp = sms_opportunity(officer, timezone="America/Chicago")
    opp.organization.skip_sundays = True
    opp.organization.save()
    assert dispatch_due_messages().sent == 0
    assert Message.objects.get().due_at == dt.datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 8:00 Chicago
    assert send_wait(when=sunday_noon, zones=zones_for(borrower=opp.borrower, organization=opp.organization)) is None


def test_federal_holidays_and_business_days():
    assert federal_holiday(dt.date(2026, 7, 3)) == "Independence Day (observed)"
    assert not is_business_day(dt.date(2026, 11, 26)) and is_business_day(dt.date(2026, 11, 27))


def test_daily_match_business_day_is_the_organizations(officer):
    from refiapp.tasks import daily_refresh

    honolulu = officer.organization
    honolulu.timezone = "Pacific/Honolulu"
    honolulu.save()
    new_york = OrganizationFactory(timezone="America/New_York")
    # Monday 2026-11-23 05:30 UTC: Monday in New York, still Sunday evening in Honolulu.
    with time_machine.travel(dt.datetime(2026, 11, 23, 5, 30, tzinfo=UTC), tick=False):
        daily_refresh()
    assert set(MatchRun.objects.values_list("organization_id", flat=True)) == {new_york.pk}
    with time_machine.travel(dt.datetime(2026, 11, 26, 18, 0, tzinfo=UTC), tick=False):  # Thanksgiving
        daily_refresh()
    assert MatchRun.objects.count() == 1


# --- engagement pauses; an application ends -------------------------------------------------------------------


def test_engagement_pauses_notifies_and_resumes_where_it_left_off(
    officer, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(dt.datetime(2026, 11, 23, 15, 0, tzinfo=UTC), tick=False)
    opp = OpportunityFactory(loan=LoanFactory(loan_officer=officer))
    fresh_rates(opp.organization)
    enrollment = enrollment_create(
        opportunity=opp, sequence=make_sequence(opp.organization, [(1, "email"), (4, "sms"), (10, "email")])
    )
    assert dispatch_due_messages().sent == 1
    day4 = enrollment.messages.get(step__day_offset=4).due_at
    with django_capture_on_commit_callbacks(execute=True):
        engagement_record(opportunity=opp, kind=Activity.Kind.REPLIED, body="Call me")
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAUSED  # not stopped
    assert enrollment.messages.filter(status=Message.Status.SCHEDULED).count() == 2  # nothing cancelled
    notice = [m for m in mail.outbox if officer.email in m.to][-1]
    assert "paused" in notice.body and "resume" in notice.body
    time_machine.move_to(dt.datetime(2026, 11, 30, 15, 0, tzinfo=UTC), tick=False)
    assert dispatch_due_messages().claimed == 0  # a paused sequence sends nothing
    enrollment_resume(enrollment=enrollment)
    resumed = enrollment.messages.get(step__day_offset=4)
    assert resumed.due_at == day4 + dt.timedelta(days=7)  # where it left off: day 4 comes 3 days after day 1
    assert LocalSms.objects.count() == 0


def test_an_application_still_ends_the_sequence(officer, time_machine):
    from pipeline.signals import application_started

    time_machine.move_to(dt.datetime(2026, 11, 23, 15, 0, tzinfo=UTC), tick=False)
    opp = OpportunityFactory(loan=LoanFactory(loan_officer=officer))
    enrollment = enrollment_create(opportunity=opp, sequence=make_sequence(opp.organization, [(4, "sms")]))
    engagement_record(opportunity=opp, kind=Activity.Kind.CLICKED)
    application_started.send(sender=None, opportunity=opp, actor=None, note="Refinance RT-1 initiated.")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "application")
    assert enrollment.messages.get().status == Message.Status.CANCELLED
