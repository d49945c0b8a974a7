"""Every staff page, once per role: help texts are reachable by screen readers, the zone of its times is said
once, and the operator, the logged-out GET and a user without a workspace each get a real page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.conftest import client_for
from tests.factories import LoanFactory, LoanProductFactory, OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db

DESCRIBED = re.compile(r'aria-describedby="([^"]+)"')
IDS = re.compile(r'\sid="([^"]+)"')


def staff_pages(officer) -> list[str]:  # type: ignore[no-untyped-def]
    loan = LoanFactory(loan_officer=officer)
    LoanProductFactory(organization=loan.organization)
    opportunity = OpportunityFactory(loan=loan)
    return [
        reverse("pipeline:board"),
        reverse("pipeline:opportunity_detail", args=[opportunity.pk]),
        reverse("refinance:initiate", args=[opportunity.pk]),
        reverse("loans:loan_list"),
        reverse("loans:loan_detail", args=[loan.pk]),
        reverse("loans:import_start"),
        reverse("loans:import_help"),
        reverse("pipeline:rates"),
        reverse("reports:report"),
    ]


@pytest.mark.parametrize("role", ["officer", "manager", "org_admin"])
def test_every_help_text_a_field_points_to_exists(role, request, officer):
    """Before issue 12 id_new_amount_helptext, id_new_term_months_helptext, id_file_helptext and id_q_helptext
    were referenced by their fields and rendered nowhere."""
    profile = request.getfixturevalue(role)
    client = client_for(profile)
    pages = staff_pages(officer)
    if profile.is_manager:
        pages.append(reverse("rates:rate_sheet"))
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        ids = set(IDS.findall(html))
        for described in DESCRIBED.findall(html):
            for target in described.split():
                assert target in ids, f"{url}: aria-describedby={target!r} points to nothing"
        assert html.count('id="time-zone-note"') == 1, url  # the zone of the page's times, said once
        assert "All times are America/Chicago" in html, url


def test_the_operator_is_sent_to_admin(client):
    """A superuser without a lender workspace landed on a "No workspace" 403 before issue 12."""
    operator = UserFactory(username="ops", is_staff=True, is_superuser=True)
    client.force_login(operator)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_rates_without_a_workspace_is_the_no_workspace_page(client):
    client.force_login(UserFactory(username="lonely"))
    response = client.get("/rates/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "No workspace for this account" in html and "<html" in html


def test_get_logout_is_a_page_with_the_button(officer_client):
    """A typed or bookmarked /accounts/logout/ was a blank 405 before issue 12."""
    response = officer_client.get(reverse("logout"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{reverse("logout")}"' in html and ">Log out</button>" in html
    assert officer_client.post(reverse("logout")).status_code == 302
    assert officer_client.get(reverse("pipeline:board")).status_code == 302  # signed out


def test_a_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
