from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.selectors import (
    CAMPAIGN_COOLDOWN_DAYS,
    DEFAULT_BODY,
    DEFAULT_SUBJECT,
    campaign_messages,
    campaign_preview,
    campaign_stats,
)
from campaigns.services import campaign_create, campaign_send, campaigns_run
from outreach.models import Message
from outreach.services.bookings import booking_request_create, tracked_link_click
from outreach.services.dispatch import dispatch_due_messages
from outreach.services.engagement import engagement_record, message_record_event
from pipeline.models import Activity, Opportunity
from tests.campaigns.conftest import SEED_FILTERS

pytestmark = pytest.mark.django_db

EXPECTED = {"ana", "twice_b"}  # Twyla's opportunity with the larger savings


def draft(user, filters=SEED_FILTERS, **kwargs):  # type: ignore[no-untyped-def]
    return campaign_create(
        user=user,
        name=kwargs.get("name", "Rates fell"),
        subject_template=kwargs.get("subject", DEFAULT_SUBJECT),
        body_template=kwargs.get("body", DEFAULT_BODY),
        filters=filters,
    )


def names(book, opportunity_ids):  # type: ignore[no-untyped-def]
    return {name for name, opp in book.items() if opp.pk in set(opportunity_ids)}


def test_recipient_count_respects_consent_filters_and_tenancy(book, manager, org_admin):
    preview = campaign_preview(
        user=manager.user, filters=SEED_FILTERS, subject_template=DEFAULT_SUBJECT, body_template=DEFAULT_BODY
    )
    assert preview.count == 2  # Ana and Twyla (once); not the others, not the other branch
    assert preview.first is not None and preview.first.borrower.first_name in {"Ana", "Twyla"}
    # The org admin also sees the other branch's borrower.
    admin_preview = campaign_preview(
        user=org_admin.user, filters=SEED_FILTERS, subject_template=DEFAULT_SUBJECT, body_template=DEFAULT_BODY
    )
    assert admin_preview.count == 3
    # Without the seed's filters the old loan and the small spread are in too.
    assert campaign_preview(user=manager.user, filters="", subject_template="x", body_template="y").count == 4


def test_preview_escapes_the_borrower_name_and_uses_placeholder_links(book, manager):
    Opportunity.objects.filter(pk=book["twice_b"].pk).update(total_interest_savings=0)
    book["ana"].borrower.first_name = "<script>alert(1)</script>"
    book["ana"].borrower.save()
    preview = campaign_preview(
        user=manager.user,
        filters=SEED_FILTERS + "&q=O'Neil",
        subject_template=DEFAULT_SUBJECT,
        body_template=DEFAULT_BODY,
    )
    assert preview.count == 1
    assert "&lt;script&gt;" in preview.rendered.html and "<script>" not in preview.rendered.html
    assert "/r/preview" in preview.rendered.text


def test_send_queues_exactly_one_email_per_borrower_and_freezes_the_count(book, manager):
    campaign = draft(manager.user)
    assert campaign.branch_id == manager.branch_id
    assert campaign_send(campaign=campaign, user=manager.user) == 2
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipient_count) == (Campaign.Status.SENT, 2)
    assert campaign.sent_at is not None and campaign.approved_by == manager.user
    messages = list(campaign_messages(campaign))
    assert names(book, [m.opportunity_id for m in messages]) == EXPECTED
    assert {m.send_key for m in messages} == {f"campaign:{campaign.pk}:{m.borrower_id}" for m in messages}
    for message in messages:
        assert message.kind == Message.Kind.CAMPAIGN and message.status == Message.Status.SCHEDULED
        assert message.subject.endswith("a note on today's mortgage rates")
        assert "/u/" in message.body and "100 Main Street" in message.body and message.body_html
    queued = Activity.objects.filter(kind=Activity.Kind.QUEUED, message_id__in=[m.pk for m in messages])
    assert queued.count() == 2

    # Pressing Send again, and the automation entry point, queue nothing.
    assert campaign_send(campaign=campaign, user=manager.user) == 0
    assert campaigns_run(organization=campaign.organization) == 0
    assert campaign_messages(campaign).count() == 2


def test_a_borrower_gets_one_campaign_email_in_thirty_days(book, manager, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    assert campaign_send(campaign=draft(manager.user), user=manager.user) == 2
    # A second campaign a minute later, with the same filters: its borrowers just got one.
    time_machine.shift(dt.timedelta(minutes=1))
    assert campaign_send(campaign=draft(manager.user, name="Rates fell again"), user=manager.user) == 0
    time_machine.shift(dt.timedelta(days=CAMPAIGN_COOLDOWN_DAYS, minutes=1))
    later = draft(manager.user, name="A month later")
    assert campaign_send(campaign=later, user=manager.user) == 2
    assert Message.objects.filter(kind=Message.Kind.CAMPAIGN).count() == 4


def test_campaigns_run_finishes_an_approved_campaign_once(book, manager):
    campaign = draft(manager.user)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENDING, approved_by=manager.user, approved_at=campaign.created_at
    )
    assert campaigns_run(organization=campaign.organization) == 2
    assert campaigns_run(organization=campaign.organization) == 0
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipient_count) == (Campaign.Status.SENT, 2)


def test_campaign_of_an_approver_who_left_goes_back_to_draft(book, manager):
    campaign = draft(manager.user)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENDING, approved_by=manager.user, approved_at=campaign.created_at
    )
    manager.is_active = False
    manager.save()
    assert campaigns_run(organization=campaign.organization) == 0
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and not campaign_messages(campaign).exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sends_queue_each_borrower_once(book, manager):
    campaign = draft(manager.user)
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        try:
            barrier.wait()
            results.append(campaign_send(campaign=Campaign.objects.get(pk=campaign.pk), user=manager.user))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [0, 2]
    assert campaign_messages(campaign).count() == 2
    assert Campaign.objects.get(pk=campaign.pk).recipient_count == 2


def test_a_template_that_quotes_figures_reaches_only_fresh_qualifying_opportunities(book, manager):
    Opportunity.objects.filter(pk=book["ana"].pk).update(qualifies=False)
    campaign = draft(
        manager.user,
        subject="{{ borrower_first_name }}, rates are {{ todays_rate }}",
        body="Today's rate: {{ todays_rate }}. {{ rate_note }}",
    )
    assert campaign_send(campaign=campaign, user=manager.user) == 1
    message = campaign_messages(campaign).get()
    assert message.opportunity_id == book["twice_b"].pk
    assert "6.125 %" in message.subject and "not an offer" in message.body


def test_dispatcher_sends_the_emails_and_cancels_a_closed_opportunity(book, manager):
    campaign = draft(manager.user)
    campaign_send(campaign=campaign, user=manager.user)
    Opportunity.objects.filter(pk=book["twice_b"].pk).update(stage=Opportunity.Stage.LOST)
    stats = dispatch_due_messages()
    assert (stats.sent, stats.cancelled) == (1, 1)
    outreach = [m for m in mail.outbox if "List-Unsubscribe" in m.extra_headers]
    assert len(outreach) == 1
    email = outreach[0]
    assert email.to == [f"Ana O'Neil <{book['ana'].borrower.email}>"]
    assert email.subject == "Ana, a note on today's mortgage rates"
    assert "O&#x27;Neil" not in email.body and "Unsubscribe" in email.alternatives[0][0]
    assert dispatch_due_messages().sent == 0


def test_stats_count_sends_opens_clicks_replies_and_bookings(book, manager):
    campaign = draft(manager.user)
    campaign_send(campaign=campaign, user=manager.user)
    dispatch_due_messages()
    ana = campaign_messages(campaign).get(opportunity=book["ana"])
    twyla = campaign_messages(campaign).get(opportunity=book["twice_b"])
    for message in (ana, twyla):
        message_record_event(message=message, kind=Activity.Kind.DELIVERED)
    message_record_event(message=ana, kind=Activity.Kind.OPENED)
    message_record_event(message=ana, kind=Activity.Kind.OPENED)  # a second open of the same email
    tracked_link_click(opportunity=ana.opportunity, message=ana)
    engagement_record(opportunity=ana.opportunity, kind=Activity.Kind.REPLIED, channel="email", message=ana)
    engagement_record(opportunity=ana.opportunity, kind=Activity.Kind.REPLIED, channel="email", message=ana)
    booking_request_create(opportunity=twyla.opportunity, phone="+13125550199", preferred_windows=[], message=twyla)
    # Engagement without the campaign's message does not count.
    engagement_record(opportunity=book["ana"], kind=Activity.Kind.REPLIED, channel="email")

    stats = campaign_stats(campaign)
    assert (stats.queued, stats.sent, stats.delivered, stats.opened, stats.clicked) == (2, 2, 2, 1, 1)
    assert (stats.replied, stats.booked, stats.not_sent) == (1, 1, 0)
    assert [key for key, _label, _value in stats.shown] == [
        "sent",
        "delivered",
        "opened",
        "clicked",
        "replied",
        "booked",
    ]


def test_a_loan_officer_cannot_create_a_campaign(officer):
    with pytest.raises(PermissionError):
        draft(officer.user)
    assert not Campaign.objects.exists()
