from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from campaigns.selectors import DEFAULT_BODY, DEFAULT_SUBJECT, campaign_messages
from campaigns.services import campaign_create, campaign_send
from outreach.services.dispatch import dispatch_due_messages
from outreach.services.engagement import engagement_record, message_record_event
from pipeline.models import Activity
from tests.campaigns.conftest import SEED_FILTERS
from tests.conftest import client_for
from tests.factories import BranchManagerFactory

pytestmark = pytest.mark.django_db

URL = reverse("reports:report")


@pytest.fixture
def sent(book, manager):  # type: ignore[no-untyped-def]
    campaign = campaign_create(
        user=manager.user,
        name="Seed <b>rate</b> alert",
        subject_template=DEFAULT_SUBJECT,
        body_template=DEFAULT_BODY,
        filters=SEED_FILTERS,
    )
    campaign_send(campaign=campaign, user=manager.user)
    dispatch_due_messages()
    ana = campaign_messages(campaign).get(opportunity=book["ana"])
    message_record_event(message=ana, kind=Activity.Kind.OPENED)
    engagement_record(opportunity=ana.opportunity, kind=Activity.Kind.REPLIED, channel="email", message=ana)
    return campaign


def test_reports_show_the_campaign_and_its_results(sent, manager, org_admin):
    for profile in (manager, org_admin):
        response = client_for(profile).get(URL)
        table = response.context["tables"]["campaigns"]
        assert [[cell.text for cell in row] for row in table.rows] == [
            ["Seed <b>rate</b> alert", "2", "2", "0", "1", "0", "1", "0"]
        ]
        assert b'id="table-campaigns"' in response.content
        assert b"Seed &lt;b&gt;rate&lt;/b&gt; alert" in response.content
    export = client_for(manager).get(URL, {"export": "campaigns"})
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][0] == "Campaign" and len(rows) == 2
    assert rows[1][0] == "Seed <b>rate</b> alert"


def test_reports_hide_campaigns_of_another_branch_and_from_loan_officers(sent, officer):
    other = BranchManagerFactory(organization=officer.organization)
    for profile in (other, officer):
        response = client_for(profile).get(URL)
        assert response.context["tables"]["campaigns"].rows == []
        assert b'id="table-campaigns"' not in response.content


def test_a_campaign_sent_before_the_period_is_not_in_it(sent, manager):
    response = client_for(manager).get(URL, {"start": "2026-10-01", "end": "2026-10-31"})
    assert response.context["tables"]["campaigns"].rows == []
