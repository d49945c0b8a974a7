"""Events are read from the timeline and the refinance audit once: one delivery per subscribed endpoint."""

from __future__ import annotations

import pytest
from django.db import connection

from outreach.models import Message
from pipeline.models import Activity, Opportunity
from pipeline.services.opportunities import opportunity_change_stage
from refinance.models import RefinanceEvent
from refinance.services import refinance_approve
from tests.factories import ActivityFactory, MessageFactory, OpportunityFactory, RefinanceTransactionFactory
from tests.webhooks.conftest import SECRET
from webhooks.models import WebhookCursor, WebhookDelivery
from webhooks.services import webhook_endpoint_save, webhooks_collect

pytestmark = pytest.mark.django_db


def lock_alert(opportunity) -> Message:
    return MessageFactory(
        enrollment=None, step=None, organization=opportunity.organization, opportunity=opportunity,
        borrower=opportunity.borrower, channel="email", kind=Message.Kind.LOCK_ALERT, send_key="lock:1:2026-12-01",
        subject="Your rate lock expires on December 1",
    )  # fmt: skip


def deliveries(**filters):
    return list(WebhookDelivery.objects.filter(**filters).order_by("endpoint_id", "event_id"))


def test_a_stage_change_is_one_delivery_per_endpoint_and_recollecting_adds_nothing(officer, opportunity, endpoint):
    second, _ = webhook_endpoint_save(
        organization=officer.organization, url="https://other.example.com/in", secret=SECRET
    )
    opportunity_change_stage(opportunity=opportunity, stage=Opportunity.Stage.CONTACTED, actor=officer.user)

    assert webhooks_collect() == 2
    rows = deliveries()
    assert [(d.endpoint_id, d.event_type, d.status) for d in rows] == [
        (endpoint.pk, "opportunity.stage_changed", "pending"),
        (second.pk, "opportunity.stage_changed", "pending"),
    ]
    activity = Activity.objects.get(kind=Activity.Kind.STAGE_CHANGE)
    assert {d.event_id for d in rows} == {f"msg_a{activity.pk}"} and rows[0].activity_id == activity.pk
    assert webhooks_collect() == 0
    assert webhooks_collect(organization=officer.organization) == 0
    assert WebhookDelivery.objects.count() == 2


def test_a_sent_message_and_a_lock_alert(opportunity, endpoint):
    message = MessageFactory(enrollment__opportunity=opportunity, status=Message.Status.SENT)
    alert = lock_alert(opportunity)
    for sent in (message, alert):
        ActivityFactory(opportunity=opportunity, kind=Activity.Kind.SENT, message_id=sent.pk, channel="email")
    ActivityFactory(opportunity=opportunity, kind=Activity.Kind.OPENED, message_id=message.pk, channel="email")
    ActivityFactory(opportunity=opportunity, kind=Activity.Kind.NOTE)  # not an event

    assert webhooks_collect() == 3
    assert sorted(d.event_type for d in deliveries()) == ["lock_alert.sent", "message.opened", "message.sent"]
    assert webhooks_collect() == 0


def test_refinance_events_come_from_the_audit_once(officer, opportunity, endpoint):
    refinance = RefinanceTransactionFactory(existing_loan=opportunity.loan, opportunity=opportunity)
    RefinanceEvent.objects.create(transaction=refinance, to_status="initiated", note="Initiated.")
    ActivityFactory(opportunity=opportunity, kind=Activity.Kind.REFINANCE_INITIATED)  # the timeline's copy

    assert webhooks_collect() == 1
    refinance_approve(refinance=refinance, actor=officer.user)  # audit row + timeline row
    assert webhooks_collect() == 1
    assert webhooks_collect() == 0
    rows = deliveries()
    assert [d.event_type for d in rows] == ["refinance.initiated", "refinance.approved"]
    assert all(d.refinance_event_id and d.event_id.startswith("msg_r") for d in rows)


def test_an_endpoint_gets_only_its_event_types_and_nothing_before_it_existed(officer, opportunity):
    ActivityFactory(opportunity=opportunity, kind=Activity.Kind.MATCHED)  # before any endpoint: history
    endpoint, _ = webhook_endpoint_save(
        organization=officer.organization, url="https://crm.example.com/a", secret=SECRET, events=["message.sent"]
    )
    assert webhooks_collect() == 0
    opportunity_change_stage(opportunity=opportunity, stage=Opportunity.Stage.CONTACTED)
    message = MessageFactory(enrollment__opportunity=opportunity)
    ActivityFactory(opportunity=opportunity, kind=Activity.Kind.SENT, message_id=message.pk)
    assert webhooks_collect() == 1
    assert [d.event_type for d in deliveries(endpoint=endpoint)] == ["message.sent"]


def test_an_inactive_endpoint_and_another_organization_get_nothing(officer, opportunity, endpoint):
    other = OpportunityFactory()
    webhook_endpoint_save(organization=officer.organization, url=endpoint.url, is_active=False)
    ActivityFactory(opportunity=opportunity, kind=Activity.Kind.MATCHED)
    ActivityFactory(opportunity=other, kind=Activity.Kind.MATCHED)
    assert webhooks_collect() == 0
    assert WebhookDelivery.objects.count() == 0


def test_a_bulk_insert_is_read_like_any_other(opportunity, endpoint):
    """The match writes the timeline with INSERT … SELECT (no signals); 300 rows are 300 deliveries, once."""
    opportunities = [OpportunityFactory(loan__loan_officer=opportunity.loan_officer) for _ in range(3)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {Activity._meta.db_table} (organization_id, opportunity_id, borrower_id, kind, channel,
                from_stage, to_stage, body, data, occurred_at, created_at)
                SELECT o.organization_id, o.id, o.borrower_id, 'matched', '', '', '', 'Saves', '{{}}', now(), now()
                FROM {Opportunity._meta.db_table} o CROSS JOIN generate_series(1, 100)
                WHERE o.id = ANY(%s)""",
            [[o.pk for o in opportunities]],
        )
    assert webhooks_collect() == 300
    assert webhooks_collect() == 0


def test_an_id_committed_late_is_not_skipped(opportunity, endpoint):
    """An id taken by a transaction still running when the cursor moved (a gap) is read when it commits."""
    first = ActivityFactory(opportunity=opportunity, kind=Activity.Kind.MATCHED)
    late = ActivityFactory(opportunity=opportunity, kind=Activity.Kind.STAGE_CHANGE, from_stage="new",
                           to_stage="contacted")  # fmt: skip
    third = ActivityFactory(opportunity=opportunity, kind=Activity.Kind.BOOKED)
    # Simulate: the collector ran while ``late`` was not committed (its id invisible).
    saved = {f.attname: getattr(late, f.attname) for f in Activity._meta.concrete_fields}
    late.delete()
    assert webhooks_collect() == 2
    cursor = WebhookCursor.objects.get()
    assert cursor.activity_id == third.pk and in_gap(cursor, saved["id"])
    Activity.objects.create(**saved)  # it commits now
    assert webhooks_collect() == 1
    assert sorted(d.activity_id for d in deliveries()) == [first.pk, saved["id"], third.pk]
    assert webhooks_collect() == 0
    assert not in_gap(WebhookCursor.objects.get(), saved["id"])


def in_gap(cursor: WebhookCursor, pk: int) -> bool:
    return any(lo <= pk <= hi for lo, hi, _seen in cursor.activity_gaps)


def test_a_gap_expires_after_an_hour(opportunity, endpoint, frozen):
    ActivityFactory(opportunity=opportunity, kind=Activity.Kind.MATCHED)
    gone = ActivityFactory(opportunity=opportunity, kind=Activity.Kind.MATCHED)
    ActivityFactory(opportunity=opportunity, kind=Activity.Kind.MATCHED)
    gone_id = gone.pk
    gone.delete()  # rolled back, never to commit
    webhooks_collect()
    assert in_gap(WebhookCursor.objects.get(), gone_id)
    frozen.shift(3601)
    webhooks_collect()
    assert WebhookCursor.objects.get().activity_gaps == []
