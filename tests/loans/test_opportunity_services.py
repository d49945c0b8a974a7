from __future__ import annotations

import pytest

from loans.models import Activity, Opportunity
from loans.services.opportunities import StageChangeError, opportunity_add_note, opportunity_change_stage
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
