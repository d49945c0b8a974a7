from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail, signing
from django.template import Context, Template

from loans.models import ConsentEvent
from outreach.models import BookingRequest, Enrollment
from outreach.rendering import PAGE_SALT, page_token, unsubscribe_token
from outreach.services.dispatch import dispatch_due_messages
from outreach.services.enrollments import enrollment_create
from pipeline.models import Activity, Opportunity
from tests.conftest import client_for
from tests.factories import LoanOfficerFactory, OpportunityFactory
from tests.outreach.conftest import MONDAY_9AM_CHICAGO, make_sequence

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrollment(opportunity):  # type: ignore[no-untyped-def]
    sequence = make_sequence(opportunity.organization, [(1, "email"), (4, "sms")])
    enrollment = enrollment_create(opportunity=opportunity, sequence=sequence)
    dispatch_due_messages()
    mail.outbox.clear()
    return enrollment


def first_message(enrollment):  # type: ignore[no-untyped-def]
    return enrollment.messages.get(step__position=1)


def test_borrower_page_shows_the_numbers_and_the_officer_card(client, enrollment):
    opportunity = enrollment.opportunity
    token = page_token(opportunity_id=opportunity.pk, message_id=first_message(enrollment).pk)
    response = client.get(f"/r/{token}/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in [
        "Hi Ana",
        "7.250\xa0%",
        "6.125\xa0%",
        "is the average market rate of the",  # whose rate, of which date, not an offer
        "monthly payments of $2,448.23 (principal and interest only)",  # the Regulation Z terms
        "so your actual payment will be greater",
        "$2,728.71",
        "$2,448.23",
        "$280.48",
        opportunity.loan_officer.display_name,
    ]:
        assert text in html
    assert opportunity.loan.loan_number not in html and "387,493.18" not in html  # nothing beyond rates/payments
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_forged_or_expired_tokens_are_404(client, enrollment, frozen):
    opportunity = enrollment.opportunity
    assert client.get(f"/r/{opportunity.pk}.0:forged:signature/").status_code == 404
    other_salt = signing.TimestampSigner(salt="something-else").sign(f"{opportunity.pk}.0")
    assert client.get(f"/r/{other_salt}/").status_code == 404
    token = page_token(opportunity_id=opportunity.pk, message_id=None)
    frozen.shift(60 * 60 * 24 * 121)
    assert client.get(f"/r/{token}/").status_code == 404
    assert client.get(f"/r/{token}/go/").status_code == 404
    assert signing.TimestampSigner(salt=PAGE_SALT).unsign(token)  # the signature itself is fine: only too old


def test_tracked_link_records_the_click_once_and_redirects(client, enrollment, django_capture_on_commit_callbacks):
    message = first_message(enrollment)
    token = page_token(opportunity_id=enrollment.opportunity_id, message_id=message.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/r/{token}/go/")
        client.get(f"/r/{token}/go/")
    assert response.status_code == 302 and response["Location"] == "https://calendly.example.com/officer"
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("paused", "clicked")
    opportunity = Opportunity.objects.get(pk=enrollment.opportunity_id)
    assert opportunity.stage == "engaged" and opportunity.attention_reason == "Borrower clicked to book a call"
    assert Activity.objects.filter(kind="clicked", message_id=message.pk, channel="email").count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [opportunity.loan_officer.email]
    assert f"https://refi.example.test/opportunities/{opportunity.pk}/" in mail.outbox[0].body


def test_tracked_link_without_scheduling_url_leads_to_the_borrower_page(client, enrollment):
    officer = enrollment.opportunity.loan_officer
    officer.scheduling_url = ""
    officer.save()
    token = page_token(opportunity_id=enrollment.opportunity_id, message_id=first_message(enrollment).pk)
    assert client.get(f"/r/{token}/go/")["Location"] == f"/r/{token}/"


def test_booking_moves_to_appointment_and_emails_the_officer(client, enrollment, django_capture_on_commit_callbacks):
    token = page_token(opportunity_id=enrollment.opportunity_id, message_id=first_message(enrollment).pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/r/{token}/",
            {"phone": "(312) 555-0199", "preferred_windows": ["evening", "morning"], "preferred_date": "2026-11-25"},
        )
    assert response.status_code == 200 and "will call you" in response.content.decode()
    booking = BookingRequest.objects.get()
    assert (booking.phone, booking.preferred_windows, booking.preferred_date) == (
        "+13125550199",
        ["morning", "evening"],
        dt.date(2026, 11, 25),
    )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("paused", "booked")
    assert Opportunity.objects.get(pk=enrollment.opportunity_id).stage == "appointment"
    booked = Activity.objects.get(kind="booked")
    assert booked.body == "Call me at +13125550199 on Wednesday November 25, Morning (8–12), Evening (5–8)."
    assert mail.outbox[0].subject.startswith("Borrower asked for a call:")


def test_a_repeated_booking_shows_the_same_confirmation_and_creates_nothing(
    client, enrollment, frozen, django_capture_on_commit_callbacks
):
    token = page_token(opportunity_id=enrollment.opportunity_id, message_id=first_message(enrollment).pk)
    form = {"phone": "(312) 555-0199", "preferred_windows": ["morning"]}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"/r/{token}/", form)
        again = client.post(f"/r/{token}/", form)
        other_details = client.post(f"/r/{token}/", {"phone": "(312) 555-0100", "notes": "Evenings please"})
    for response in (first, again, other_details):
        assert response.status_code == 200 and "will call you" in response.content.decode()
    booking = BookingRequest.objects.get()
    assert (booking.phone, booking.requested_on) == ("+13125550199", dt.date(2026, 11, 23))
    assert Activity.objects.filter(kind="booked").count() == 1
    assert len(mail.outbox) == 1  # the officer is told once
    # Another opportunity of the same borrower the same day: still the one request.
    second = OpportunityFactory(
        loan__borrower=enrollment.opportunity.borrower, loan__loan_officer=booking.opportunity.loan_officer
    )
    client.post(f"/r/{page_token(opportunity_id=second.pk, message_id=None)}/", form)
    assert BookingRequest.objects.count() == 1
    # The next local day is a new request.
    frozen.shift(dt.timedelta(days=1))
    client.post(f"/r/{token}/", form)
    assert BookingRequest.objects.count() == 2


def test_booking_form_errors_are_shown_and_nothing_is_written(client, enrollment):
    token = page_token(opportunity_id=enrollment.opportunity_id, message_id=None)
    response = client.post(f"/r/{token}/", {"phone": "12", "preferred_date": "2020-01-01"})
    html = response.content.decode()
    assert "Enter a phone number we can call" in html and "Pick today or a later day." in html
    assert not BookingRequest.objects.exists()
    enrollment.refresh_from_db()
    assert enrollment.status == "active"


def test_unsubscribe_get_confirms_and_post_opts_out(client, enrollment):
    message = first_message(enrollment)
    token = unsubscribe_token(borrower_id=message.borrower_id, message_id=message.pk)
    page = client.get(f"/u/{token}/")
    assert page.status_code == 200 and b"Unsubscribe</button>" in page.content
    message.borrower.refresh_from_db()
    assert message.borrower.email_opted_out_at is None  # a GET (e.g. a link scanner) changes nothing
    assert client.post(f"/u/{token}/").status_code == 200
    message.borrower.refresh_from_db()
    assert message.borrower.email_opted_out_at == MONDAY_9AM_CHICAGO
    event = ConsentEvent.objects.get()
    assert (event.channel, event.action, event.source) == ("email", "revoked", "unsubscribe link")
    assert Activity.objects.get(kind="opted_out").message_id == message.pk


def test_rfc8058_one_click_post_without_csrf(enrollment):
    from django.test import Client

    message = first_message(enrollment)
    token = unsubscribe_token(borrower_id=message.borrower_id, message_id=message.pk)
    client = Client(enforce_csrf_checks=True)
    assert client.post(f"/u/{token}/", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert ConsentEvent.objects.get().source == "one-click unsubscribe (RFC 8058)"
    assert client.post(f"/u/{token}/", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert ConsentEvent.objects.count() == 1
    assert client.get("/u/bogus:token:value/").status_code == 404


# ----- loan officer actions and the panel ------------------------------------------------------------------


def test_officer_enrolls_pauses_resumes_and_stops(officer_client, opportunity, frozen):
    response = officer_client.post(f"/o/opportunities/{opportunity.pk}/enroll/", {"next": "/loans/"})
    assert response.status_code == 302 and response["Location"] == "/loans/"
    enrollment = Enrollment.objects.get(opportunity=opportunity)
    assert enrollment.sequence.is_default and enrollment.messages.count() == 3

    officer_client.post(f"/o/enrollments/{enrollment.pk}/pause/")
    enrollment.refresh_from_db()
    assert enrollment.status == "paused"
    day4 = enrollment.messages.get(step__position=2).due_at
    frozen.shift(60 * 60 * 24)
    officer_client.post(f"/o/enrollments/{enrollment.pk}/resume/")
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert enrollment.messages.get(step__position=2).due_at == day4 + dt.timedelta(days=1)

    officer_client.post(f"/o/enrollments/{enrollment.pk}/stop/")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "manual")
    kinds = list(Activity.objects.filter(opportunity=opportunity).values_list("kind", flat=True))
    assert {"enrolled", "queued", "paused", "resumed", "stopped"} <= set(kinds)

    second = officer_client.post(f"/o/opportunities/{opportunity.pk}/enroll/", HTTP_HX_REQUEST="true")
    assert second.status_code == 200 and b'id="outreach-panel"' in second.content
    assert Enrollment.objects.filter(opportunity=opportunity, status="active").count() == 1


def test_second_running_enrollment_is_refused(officer_client, opportunity):
    officer_client.post(f"/o/opportunities/{opportunity.pk}/enroll/")
    response = officer_client.post(f"/o/opportunities/{opportunity.pk}/enroll/", follow=True)
    assert "already has a running sequence" in response.content.decode()
    assert Enrollment.objects.count() == 1


def test_another_officers_opportunity_is_404(opportunity):
    stranger = client_for(LoanOfficerFactory())
    assert stranger.post(f"/o/opportunities/{opportunity.pk}/enroll/").status_code == 404
    enrollment = enrollment_create(opportunity=opportunity)
    assert stranger.post(f"/o/enrollments/{enrollment.pk}/stop/").status_code == 404
    enrollment.refresh_from_db()
    assert enrollment.status == "active"


def test_actions_need_login_and_post(client, officer_client, opportunity):
    assert client.post(f"/o/opportunities/{opportunity.pk}/enroll/").status_code == 302
    assert officer_client.get(f"/o/opportunities/{opportunity.pk}/enroll/").status_code == 405


def test_panel_tag_renders_state_and_buttons(rf, officer, opportunity):
    request = rf.get("/loans/")
    request.user = officer.user
    template = Template("{% load outreach %}{% outreach_panel opportunity %}")
    html = template.render(Context({"opportunity": opportunity, "request": request}))
    assert "Not enrolled" in html and "Start outreach" in html
    enrollment_create(opportunity=opportunity)
    html = template.render(Context({"opportunity": opportunity, "request": request}))
    assert "Rate drop (default)" in html and "Pause" in html and "Stop" in html and "Day 4 · SMS" in html


def test_closed_opportunity_cannot_be_enrolled(officer_client, officer, frozen):
    lost = OpportunityFactory(loan__loan_officer=officer, stage="lost")
    response = officer_client.post(f"/o/opportunities/{lost.pk}/enroll/", follow=True)
    assert "are not contacted" in response.content.decode()
    assert not Enrollment.objects.exists()


def test_scheduling_link_stops_the_sequence_even_after_an_esp_click_event(
    client, enrollment, django_capture_on_commit_callbacks
):
    from outreach.services.engagement import message_record_event

    message = first_message(enrollment)
    message_record_event(message=message, kind=Activity.Kind.CLICKED, data={"source": "esp"})  # e.g. unsubscribe link
    token = page_token(opportunity_id=enrollment.opportunity_id, message_id=message.pk)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(f"/r/{token}/go/")
        client.get(f"/r/{token}/go/")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("paused", "clicked")
    assert Opportunity.objects.get(pk=enrollment.opportunity_id).stage == "engaged"
    assert Activity.objects.filter(kind="clicked", message_id=message.pk).count() == 1
    assert len(mail.outbox) == 1  # the officer is told once


def test_repeat_clicks_on_the_borrower_page_count_once(client, enrollment):
    token = page_token(opportunity_id=enrollment.opportunity_id, message_id=None)
    client.get(f"/r/{token}/go/")
    client.get(f"/r/{token}/go/")
    assert Activity.objects.filter(kind="clicked", opportunity_id=enrollment.opportunity_id).count() == 1


def test_booking_without_a_preferred_window_is_accepted(client, enrollment):
    """The form makes the windows optional; the model refused an empty list and the page answered 500."""
    token = page_token(opportunity_id=enrollment.opportunity_id, message_id=None)
    response = client.post(f"/r/{token}/", {"phone": "(312) 555-0199"})
    assert response.status_code == 200 and "will call you" in response.content.decode()
    assert BookingRequest.objects.get().preferred_windows == []
    assert Opportunity.objects.get(pk=enrollment.opportunity_id).stage == "appointment"
