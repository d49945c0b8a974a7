from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.selectors import campaign_messages
from tests.campaigns.conftest import SEED_FILTERS
from tests.conftest import client_for
from tests.factories import BranchManagerFactory, OrgAdminFactory

pytestmark = pytest.mark.django_db

NEW = reverse("campaigns:new")


def post_new(client, filters=SEED_FILTERS, **data):  # type: ignore[no-untyped-def]
    body = {
        "filters": filters,
        "name": "Rates fell",
        "subject_template": "{{ borrower_first_name }}, rates moved",
        "body_template": "Hi {{ borrower_first_name }}, book a call: {{ scheduling_link }}",
    }
    body.update(data)
    return client.post(NEW, body)


def test_manager_creates_previews_and_sends_from_board_filters(book, manager):
    client = client_for(manager)
    board = client.get(reverse("pipeline:board"), {"note_within_months": "36", "min_spread": "0.75"})
    assert b"Create campaign from these filters" in board.content
    assert b"note_within_months=36" in board.content

    page = client.get(NEW + "?" + SEED_FILTERS + "&page=2&sort=-score")
    assert page.status_code == 200
    assert page.context["preview"].count == 2
    assert page.context["filters"] == SEED_FILTERS
    assert b"Closed within (months): 36" in page.content and b"Min spread (pts): 0.75" in page.content
    assert b'data-testid="preview-body"' in page.content

    response = post_new(client)
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response.url == campaign.get_absolute_url()
    assert (campaign.filters, campaign.status, campaign.branch_id) == (SEED_FILTERS, "draft", manager.branch_id)

    detail = client.get(campaign.get_absolute_url())
    assert b"Send to 2 borrowers" in detail.content

    send = reverse("campaigns:send", args=[campaign.pk])
    assert client.post(send).status_code == 302
    assert client.post(send).status_code == 302  # pressed twice
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipient_count, campaign_messages(campaign).count()) == ("sent", 2, 2)
    sent_page = client.get(campaign.get_absolute_url())
    assert b'data-testid="stat-sent"' in sent_page.content
    assert b"Rates fell" in client.get(reverse("campaigns:list")).content
    # A sent campaign cannot be edited.
    edit = client.post(
        reverse("campaigns:edit", args=[campaign.pk]), {"name": "x", "subject_template": "s", "body_template": "b"}
    )
    assert edit.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Rates fell"


def test_preview_button_saves_nothing(book, manager):
    response = post_new(client_for(manager), preview="1")
    assert response.status_code == 200 and not Campaign.objects.exists()
    assert b"rates moved" in response.content


def test_preview_of_a_hostile_borrower_name_is_escaped(book, manager):
    borrower = book["ana"].borrower
    borrower.first_name = '<img src=x onerror="alert(1)">'
    borrower.save()
    content = client_for(manager).get(NEW + "?" + SEED_FILTERS + "&q=O%27Neil").content
    assert b"<img src=x" not in content and b"&lt;img src=x" in content


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"body_template": ""}, "body_template", "required"),
        ({"subject_template": ""}, "subject_template", "required"),
        ({"body_template": "Hi {% if %}"}, "body_template", "Template error"),
        ({"body_template": "{% include 'x.html' %}"}, "body_template", "Template error"),
        ({"body_template": "You would pay {{ new_payment }} a month."}, "body_template", "payment_terms"),
        ({"subject_template": "Rates are {{ todays_rate }}"}, "body_template", "rate_note"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_form_errors_are_field_errors(book, manager, data, field, text):
    response = post_new(client_for(manager), **data)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert text in errors
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    "query",
    ["min_spread=abc", "note_within_months=1.5", "stage=nonsense", "loan_officer=999999", "min_score=500", "branch=x"],
)
def test_bad_board_filters_are_shown_never_a_500(book, manager, query):
    client = client_for(manager)
    page = client.get(NEW + "?" + query)
    assert page.status_code == 200
    if "branch" not in query:  # a branch manager has no branch filter: it is ignored
        assert page.context["filter_errors"]
        assert b'data-testid="filter-errors"' in page.content
        assert post_new(client, filters=query).status_code == 200
        assert not Campaign.objects.exists()


def test_loan_officer_gets_403_and_404(book, officer, manager):
    client = client_for(manager)
    post_new(client)
    campaign = Campaign.objects.get()
    officer_client = client_for(officer)
    assert officer_client.get(reverse("campaigns:list")).status_code == 403
    assert officer_client.get(NEW + "?" + SEED_FILTERS).status_code == 403
    assert post_new(officer_client).status_code == 403
    for name in ("campaigns:detail", "campaigns:edit"):
        assert officer_client.get(reverse(name, args=[campaign.pk])).status_code == 404
    assert officer_client.post(reverse("campaigns:send", args=[campaign.pk])).status_code == 404
    assert b"Create campaign from these filters" not in officer_client.get(reverse("pipeline:board")).content
    campaign.refresh_from_db()
    assert campaign.status == "draft" and Campaign.objects.count() == 1


def test_other_branch_and_other_tenant_get_404(book, manager, officer):
    post_new(client_for(manager))
    campaign = Campaign.objects.get()
    other_branch = BranchManagerFactory(organization=officer.organization)
    stranger = OrgAdminFactory()
    for profile in (other_branch, stranger):
        client = client_for(profile)
        for name in ("campaigns:detail", "campaigns:edit"):
            assert client.get(reverse(name, args=[campaign.pk])).status_code == 404
        assert client.post(reverse("campaigns:send", args=[campaign.pk])).status_code == 404
        assert b"Rates fell" not in client.get(reverse("campaigns:list")).content
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    # The org admin of the same organization sees the branch's campaign.
    admin = OrgAdminFactory(organization=officer.organization)
    assert client_for(admin).get(campaign.get_absolute_url()).status_code == 200


def test_edit_a_draft(book, manager):
    client = client_for(manager)
    post_new(client)
    campaign = Campaign.objects.get()
    url = reverse("campaigns:edit", args=[campaign.pk])
    assert client.get(url).status_code == 200
    bad = client.post(url, {"name": "New", "subject_template": "s", "body_template": "{{ monthly_savings }}"})
    assert bad.status_code == 200 and "payment_terms" in " ".join(bad.context["form"].errors["body_template"])
    good = client.post(url, {"name": "New", "subject_template": "s", "body_template": "Hello {{ lo_name }}"})
    assert good.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.body_template) == ("New", "Hello {{ lo_name }}")
