from __future__ import annotations

import pytest

from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import StageChangeError, opportunity_add_note, opportunity_change_stage
from tests.factories import OpportunityFactory

pytestmark = pytest.mark.django_db


def test_stage_change_is_logged_with_actor(officer):
    opp = OpportunityFactory(loan__loan_officer=officer)
    opportunity_change_stage(opportunity=opp, stage=Opportunity.Stage.CONTACTED, actor=officer.user)
    opp.refresh_from_db()
    assert opp.stage == "contacted"
    entry = Activity.objects.get(opportunity=opp)
    assert (entry.kind, entry.from_stage, entry.to_stage, entry.actor) == (
        "stage_change",
        "new",
        "contacted",
        officer.user,
    )


def test_same_stage_changes_nothing(officer):
    opp = OpportunityFactory(loan__loan_officer=officer)
    opportunity_change_stage(opportunity=opp, stage="new", actor=officer.user)
    assert not Activity.objects.exists()


def test_unknown_stage_is_refused(officer):
    opp = OpportunityFactory(loan__loan_officer=officer)
    with pytest.raises(StageChangeError):
        opportunity_change_stage(opportunity=opp, stage="bogus", actor=officer.user)


def test_cannot_reopen_when_loan_has_another_open_opportunity(officer):
    closed = OpportunityFactory(loan__loan_officer=officer, stage="lost")
    OpportunityFactory(loan=closed.loan)
    with pytest.raises(StageChangeError):
        opportunity_change_stage(opportunity=closed, stage="new", actor=officer.user)


def test_note_requires_text(officer):
    opp = OpportunityFactory(loan__loan_officer=officer)
    with pytest.raises(ValueError):
        opportunity_add_note(opportunity=opp, body="  ", actor=officer.user)
    note = opportunity_add_note(opportunity=opp, body="Left a voicemail", actor=officer.user)
    assert note.kind == "note"


@pytest.mark.parametrize(
    ("stage", "reason"), [("application", "application"), ("lost", "closed"), ("archived", "closed")]
)
def test_closing_stages_stop_the_running_sequence(officer, stage, reason):
    from outreach.models import Message
    from outreach.services import enrollment_create, sequence_ensure_default

    opp = OpportunityFactory(loan__loan_officer=officer)
    sequence_ensure_default(organization=opp.organization)
    enrollment = enrollment_create(opportunity=opp, actor=officer.user)
    opportunity_change_stage(opportunity=opp, stage=stage, actor=officer.user)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", reason)
    assert not Message.objects.filter(enrollment=enrollment, status="scheduled").exists()


def test_engaged_keeps_the_sequence_and_a_user_stage_change_clears_attention(officer):
    opp = OpportunityFactory(loan__loan_officer=officer, attention_reason="Replied by SMS")
    opportunity_change_stage(opportunity=opp, stage="engaged", actor=None, source="outreach")
    opp.refresh_from_db()
    assert opp.attention_reason == "Replied by SMS"  # the outreach flag stays until the officer acts
    opportunity_change_stage(opportunity=opp, stage="appointment", actor=officer.user)
    opp.refresh_from_db()
    assert (opp.attention_reason, opp.attention_at) == ("", None)


@pytest.mark.django_db(transaction=True)
def test_stage_change_is_atomic_on_its_own():
    """Called outside any transaction (a view without ATOMIC_REQUESTS), the service opens its own: it locks the row."""
    from django.db import connection

    from pipeline.services.opportunities import opportunity_change_stage
    from tests.factories import OpportunityFactory

    opportunity = OpportunityFactory()
    assert not connection.in_atomic_block
    opportunity_change_stage(opportunity=opportunity, stage="contacted")
    opportunity.refresh_from_db()
    assert opportunity.stage == "contacted"
