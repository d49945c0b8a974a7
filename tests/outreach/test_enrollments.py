from __future__ import annotations

import datetime as dt

import pytest

from outreach.models import Enrollment, Message, Sequence
from outreach.services.enrollments import (
    EnrollmentError,
    enrollment_create,
    enrollment_stop_for_opportunity,
    enrollments_create_for_new_opportunities,
)
from outreach.tasks import enroll_new_opportunities
from pipeline.models import Activity
from tests.factories import OpportunityFactory, OrganizationFactory, SequenceFactory
from tests.outreach.conftest import make_sequence

pytestmark = pytest.mark.django_db


def test_default_sequence_schedules_day_1_4_10_at_local_midnight(opportunity):
    enrollment = enrollment_create(opportunity=opportunity)
    due = list(enrollment.messages.order_by("step__position").values_list("channel", "due_at"))
    # Enrolled Monday 2026-11-23 9:00 Chicago; midnight CST is 06:00 UTC.
    assert due == [
        ("email", dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)),
        ("sms", dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)),
        ("email", dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)),
    ]
    assert Activity.objects.filter(kind="queued", opportunity=opportunity).count() == 3
    assert Activity.objects.filter(kind="enrolled", opportunity=opportunity).count() == 1


def test_refuses_a_second_running_enrollment_and_foreign_or_empty_sequences(opportunity):
    enrollment_create(opportunity=opportunity)
    with pytest.raises(EnrollmentError, match="already has a running sequence"):
        enrollment_create(opportunity=opportunity)
    enrollment_stop_for_opportunity(opportunity=opportunity, reason="manual")
    with pytest.raises(EnrollmentError, match="another organization"):
        enrollment_create(opportunity=opportunity, sequence=SequenceFactory())
    with pytest.raises(EnrollmentError, match="no steps"):
        enrollment_create(opportunity=opportunity, sequence=SequenceFactory(organization=opportunity.organization))
    assert Message.objects.count() == 3  # only the first enrollment's rows


def test_stop_for_opportunity_cancels_what_is_left(opportunity):
    enrollment = enrollment_create(opportunity=opportunity)
    stopped = enrollment_stop_for_opportunity(opportunity=opportunity, reason="application")
    assert stopped == enrollment
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "application")
    assert set(enrollment.messages.values_list("status", flat=True)) == {"cancelled"}
    assert enrollment_stop_for_opportunity(opportunity=opportunity, reason="application") is None
    assert Activity.objects.filter(kind="stopped").count() == 1


def test_auto_enroll_is_set_based_and_only_enrolls_new_never_enrolled_opportunities(frozen, officer):
    org = officer.organization
    org.auto_enroll = True
    org.save()
    new = [OpportunityFactory(loan__loan_officer=officer) for _ in range(4)]
    OpportunityFactory(loan__loan_officer=officer, stage="engaged")
    OpportunityFactory(loan__loan_officer=officer, qualifies=False)
    OpportunityFactory(loan__loan_officer=officer, loan__borrower__do_not_contact=True)
    previously = OpportunityFactory(loan__loan_officer=officer)
    enrollment_create(opportunity=previously, sequence=make_sequence(org, [(1, "email")]))
    enrollment_stop_for_opportunity(opportunity=previously, reason="manual")

    assert enrollments_create_for_new_opportunities(organization=org) == 4
    assert set(Enrollment.objects.filter(status="active").values_list("opportunity_id", flat=True)) == {
        o.pk for o in new
    }
    assert Message.objects.filter(enrollment__status="active").count() == 12
    active = Message.objects.filter(enrollment__status="active").values("pk")
    assert Activity.objects.filter(kind="queued", message_id__in=active).count() == 12
    assert enrollments_create_for_new_opportunities(organization=org) == 0  # a rerun changes nothing


def test_auto_enroll_respects_the_org_setting(frozen, officer):
    OpportunityFactory(loan__loan_officer=officer)
    assert enrollments_create_for_new_opportunities(organization=officer.organization) == 0
    assert enroll_new_opportunities() == 0
    assert Sequence.objects.filter(organization=officer.organization, is_default=True).count() == 1


def test_task_creates_default_sequences_for_every_org_and_enrolls(frozen, officer):
    OrganizationFactory()
    officer.organization.auto_enroll = True
    officer.organization.save()
    OpportunityFactory(loan__loan_officer=officer)
    assert enroll_new_opportunities() == 1
    assert Sequence.objects.filter(is_default=True).count() == 2
