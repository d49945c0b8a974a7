"""A known history for the report tests: every number on the page and in the email is derived by hand from it.

Organization "Prairie Lending" (America/Chicago, $4,000.00 per closed loan). The reported week is Monday
2026-11-09 to Sunday 2026-11-15 (local); the previous week 2026-11-02 to 2026-11-08.

Branch North: Alice and Bob (loan officers), manager Morgan; an unassigned opportunity. Branch South: Carol.
Org admin Olivia. Another organization with its own busy officer, which must never show.

opp  officer     first match (local)   spread band       rule           events
o1   Alice       Mon 11-09 09:00       0.600  0.50-0.75  flat 0.500     email sent +1h, delivered, opened, clicked,
                                                                        replied 11-10, booked 11-10 09:30 (+24.5h),
                                                                        →appointment, refinance initiated,
                                                                        →application 11-12, →won 11-14
o2   Alice       Tue 11-10 08:00       0.800  0.75-1.00  flat 0.625     SMS sent +3h, delivered; email sent 11-13,
                                                                        bounced
o3   Alice       Tue 11-03 (previous)  1.200  1.00-1.50  flat 0.625     email sent 11-04, delivered, opened 11-05;
                                                                        replied 11-10, →appointment 11-11
o4   Alice       10-20 (before)        0.900             flat 0.625     →won 11-06 (previous week)
o5   Bob         Wed 11-11 14:00       1.600  1.50+      optimal        email sent +6h, delivered, opened;
                                                                        new→won 11-15 10:00 (+92h)
o6   Bob         Sun 11-15 23:30       0.550  0.50-0.75  not recorded   none (Monday 05:30 UTC: still this week)
o7   Bob         Mon 11-16 00:30       0.700             flat 0.500     none (next week)
o8   Bob         Sun 11-08 23:00       0.700             flat 0.500     none (previous week)
o9   Carol       Thu 11-12 10:00       0.900  0.75-1.00  flat 0.625     email sent +2h; booked 11-13 10:00 (+24h)
o10  unassigned  Fri 11-13 09:00       1.000  1.00-1.50  flat 0.625     none (branch North)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.models import Organization
from pipeline.models import Activity, Opportunity
from reports.periods import Period
from tests.factories import (
    ActivityFactory,
    BranchFactory,
    BranchManagerFactory,
    EnrollmentFactory,
    LoanFactory,
    LoanOfficerFactory,
    MatchRunFactory,
    MessageFactory,
    OpportunityFactory,
    OrgAdminFactory,
    OrganizationFactory,
)

CHICAGO = ZoneInfo("America/Chicago")
K = Activity.Kind
STAGE = Opportunity.Stage


def local(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=CHICAGO)


WEEK = Period(start=dt.date(2026, 11, 9), end=dt.date(2026, 11, 15), timezone="America/Chicago")


@dataclass
class History:
    organization: Organization
    alice: Any
    bob: Any
    carol: Any
    manager: Any
    south_manager: Any
    admin: Any
    outsider: Any
    other_admin: Any
    opportunities: dict[str, Opportunity]


class _Builder:
    def __init__(self) -> None:
        self.enrollments: dict[int, Any] = {}

    def opportunity(
        self, officer: Any, first_matched_at: dt.datetime, spread: str, run: Any, threshold: str, **kw: Any
    ):
        loan = LoanFactory(loan_officer=officer if officer is not None else kw.pop("loan_officer_for_loan"))
        extra = {"loan_officer": None, "branch": kw.pop("branch")} if officer is None else {}
        return OpportunityFactory(
            loan=loan,
            first_matched_at=first_matched_at,
            last_matched_at=first_matched_at,
            spread=Decimal(spread),
            threshold=Decimal(threshold),
            match_run=run,
            **extra,
            **kw,
        )

    def send(self, opportunity: Opportunity, when: dt.datetime, channel: str = "email", events=()) -> Any:
        enrollment = self.enrollments.get(opportunity.pk)
        if enrollment is None:
            enrollment = self.enrollments[opportunity.pk] = EnrollmentFactory(opportunity=opportunity, started_at=when)
        message = MessageFactory(enrollment=enrollment, step__channel=channel, status="sent", due_at=when, sent_at=when)
        ActivityFactory(opportunity=opportunity, kind=K.SENT, channel=channel, message_id=message.pk, occurred_at=when)
        for kind, at in events:
            ActivityFactory(opportunity=opportunity, kind=kind, channel=channel, message_id=message.pk, occurred_at=at)
        return message

    @staticmethod
    def event(opportunity: Opportunity, kind: str, when: dt.datetime, **kw: Any) -> Any:
        return ActivityFactory(opportunity=opportunity, kind=kind, occurred_at=when, **kw)

    @staticmethod
    def stage(opportunity: Opportunity, from_stage: str, to_stage: str, when: dt.datetime) -> Any:
        return ActivityFactory(
            opportunity=opportunity, kind=K.STAGE_CHANGE, from_stage=from_stage, to_stage=to_stage, occurred_at=when
        )


def build_history() -> History:
    org = OrganizationFactory(
        name="Prairie Lending", slug="prairie", timezone="America/Chicago", revenue_per_loan=Decimal("4000.00")
    )
    north = BranchFactory(organization=org, name="North")
    south = BranchFactory(organization=org, name="South")
    alice = LoanOfficerFactory(organization=org, branch=north, display_name="Alice Adams", email="alice@prairie.test")
    bob = LoanOfficerFactory(organization=org, branch=north, display_name="Bob Brown", email="bob@prairie.test")
    carol = LoanOfficerFactory(organization=org, branch=south, display_name="Carol Chen", email="carol@prairie.test")
    manager = BranchManagerFactory(
        organization=org, branch=north, display_name="Morgan North", email="morgan@prairie.test"
    )
    south_manager = BranchManagerFactory(
        organization=org, branch=south, display_name="Sam South", email="sam@prairie.test"
    )
    admin = OrgAdminFactory(organization=org, display_name="Olivia Admin", email="olivia@prairie.test")
    flat = MatchRunFactory(organization=org, rule=Organization.MatchingRule.FLAT)
    optimal = MatchRunFactory(organization=org, rule=Organization.MatchingRule.OPTIMAL)
    b = _Builder()

    o1 = b.opportunity(alice, local(9, 9), "0.600", flat, "0.500", stage=STAGE.WON)
    b.send(
        o1,
        local(9, 10),
        "email",
        [(K.DELIVERED, local(9, 10, 5)), (K.OPENED, local(9, 12)), (K.CLICKED, local(9, 12, 5))],
    )
    b.event(o1, K.REPLIED, local(10, 9), channel="email")
    b.event(o1, K.BOOKED, local(10, 9, 30))
    b.stage(o1, STAGE.CONTACTED, STAGE.APPOINTMENT, local(10, 10))
    b.event(o1, K.REFINANCE_INITIATED, local(12, 10))
    b.stage(o1, STAGE.APPOINTMENT, STAGE.APPLICATION, local(12, 10))
    b.stage(o1, STAGE.APPLICATION, STAGE.WON, local(14, 15))
    b.event(o1, K.NOTE, local(14, 16))

    o2 = b.opportunity(alice, local(10, 8), "0.800", flat, "0.625", stage=STAGE.CONTACTED)
    b.send(o2, local(10, 11), "sms", [(K.DELIVERED, local(10, 11, 1))])
    b.send(o2, local(13, 9), "email", [(K.BOUNCED, local(13, 9, 1))])

    o3 = b.opportunity(alice, local(3, 9), "1.200", flat, "0.625", stage=STAGE.APPOINTMENT)
    b.send(o3, local(4, 10), "email", [(K.DELIVERED, local(4, 10, 1)), (K.OPENED, local(5, 8))])
    b.event(o3, K.REPLIED, local(10, 7), channel="sms")
    b.stage(o3, STAGE.CONTACTED, STAGE.APPOINTMENT, local(11, 9))

    o4 = b.opportunity(alice, local(20, 9, month=10), "0.900", flat, "0.625", stage=STAGE.WON)
    b.stage(o4, STAGE.APPLICATION, STAGE.WON, local(6, 11))

    o5 = b.opportunity(bob, local(11, 14), "1.600", optimal, "0.625", stage=STAGE.WON)
    b.send(o5, local(11, 20), "email", [(K.DELIVERED, local(11, 20, 1)), (K.OPENED, local(12, 7))])
    b.stage(o5, STAGE.NEW, STAGE.WON, local(15, 10))

    o6 = b.opportunity(bob, local(15, 23, 30), "0.550", None, "0.500")
    o7 = b.opportunity(bob, local(16, 0, 30), "0.700", flat, "0.500")
    o8 = b.opportunity(bob, local(8, 23), "0.700", flat, "0.500")

    o9 = b.opportunity(carol, local(12, 10), "0.900", flat, "0.625", stage=STAGE.APPOINTMENT)
    b.send(o9, local(12, 12), "email")
    b.event(o9, K.BOOKED, local(13, 10))

    o10 = b.opportunity(None, local(13, 9), "1.000", flat, "0.625", branch=north, loan_officer_for_loan=alice)

    # Not counted anywhere: an activity without an opportunity, and a disqualification.
    Activity.objects.create(organization=org, kind=K.OPTED_OUT, channel="sms", occurred_at=local(12, 9))
    b.event(o2, K.DISQUALIFIED, local(12, 6))

    # Another organization, busy in the same week: must never show.
    outsider = LoanOfficerFactory(display_name="Zed Outsider")
    other_admin = OrgAdminFactory(organization=outsider.organization)
    z = b.opportunity(outsider, local(10, 9), "0.700", MatchRunFactory(organization=outsider.organization), "0.500")
    b.send(z, local(10, 10), "email", [(K.DELIVERED, local(10, 10, 1)), (K.OPENED, local(10, 11))])
    b.event(z, K.REPLIED, local(10, 12), channel="email")
    b.stage(z, STAGE.NEW, STAGE.WON, local(11, 12))

    return History(
        organization=org,
        alice=alice,
        bob=bob,
        carol=carol,
        manager=manager,
        south_manager=south_manager,
        admin=admin,
        outsider=outsider,
        other_admin=other_admin,
        opportunities={
            "o1": o1, "o2": o2, "o3": o3, "o4": o4, "o5": o5, "o6": o6, "o7": o7, "o8": o8, "o9": o9, "o10": o10,
        },
    )  # fmt: skip


@pytest.fixture
def history(db) -> History:  # type: ignore[no-untyped-def]
    return build_history()
