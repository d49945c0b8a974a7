"""'Run match now' (view and admin action) and the threshold admin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from pipeline.models import MatchRun, ThresholdRule
from tests.conftest import client_for
from tests.factories import (
    LoanFactory,
    RateObservationFactory,
    RateSeriesFactory,
    SeriesMappingFactory,
    ThresholdRuleFactory,
)

pytestmark = pytest.mark.django_db


def admin_client(profile):
    """Staff managers get the loans model permissions (as the tenancy tests do)."""
    profile.user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=("core", "loans", "pipeline", "refinance"))
    )
    return client_for(profile)


@pytest.fixture
def priced(officer):
    series = RateSeriesFactory(code="OBMMIC30YF")
    SeriesMappingFactory(organization=officer.organization, series=series)
    RateObservationFactory(series=series, date=dt.date.today() - dt.timedelta(days=1), rate=Decimal("5.000"))
    LoanFactory(loan_officer=officer)
    return officer.organization


def test_manager_runs_the_match_now(priced, manager_client, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(reverse("pipeline:run_match"), {"next": "/loans/"})
    assert response.status_code == 302 and response.url == "/loans/"
    run = MatchRun.objects.get()  # django-q2 runs synchronously in tests
    assert (run.organization, run.trigger, run.triggered_by, run.status, run.created) == (
        priced,
        "user",
        manager.user,
        "succeeded",
        1,
    )
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [f"The match for {priced} has started; the board follows it."]


def test_run_match_now_answers_htmx_with_the_runs_progress(priced, manager_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = manager_client.post(reverse("pipeline:run_match"), HTTP_HX_REQUEST="true")
    run = MatchRun.objects.get()
    assert run.status == MatchRun.Status.QUEUED and len(callbacks) == 1  # claimed now, the work is queued
    html = response.content.decode()
    status_url = reverse("pipeline:match_run_status", args=[run.pk])
    assert f'hx-get="{status_url}"' in html and 'hx-trigger="every 2s"' in html
    assert "Match queued" in html
    assert "Run match now" not in html  # no second click while it runs


def test_a_double_click_queues_one_run(priced, manager_client, django_capture_on_commit_callbacks):
    """The second POST finds the first run still going: the same run is followed, nothing more is queued (before
    issue 12 every click queued a task)."""
    with django_capture_on_commit_callbacks(execute=False) as first:
        manager_client.post(reverse("pipeline:run_match"), HTTP_HX_REQUEST="true")
    with django_capture_on_commit_callbacks(execute=False) as second:
        response = manager_client.post(reverse("pipeline:run_match"), HTTP_HX_REQUEST="true")
    run = MatchRun.objects.get()
    assert (len(first), len(second)) == (1, 0)
    assert reverse("pipeline:match_run_status", args=[run.pk]) in response.content.decode()


def test_the_poll_ends_with_the_outcome_and_refreshes_the_board(
    priced, manager_client, officer_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        manager_client.post(reverse("pipeline:run_match"), HTTP_HX_REQUEST="true")
    run = MatchRun.objects.get()
    status_url = reverse("pipeline:match_run_status", args=[run.pk])
    running = officer_client.get(status_url, HTTP_HX_REQUEST="true")  # the officer's board follows it too
    assert running.status_code == 200 and "HX-Trigger" not in running
    assert 'hx-trigger="every 2s"' in running.content.decode()
    for callback in callbacks:
        callback()  # the worker runs the claimed run (django-q2 is synchronous in tests)
    done = manager_client.get(status_url, HTTP_HX_REQUEST="true")
    assert done["HX-Trigger"] == "match-finished"
    html = done.content.decode()
    assert "Match finished" in html and "1 matched, 1 new" in html
    assert "every 2s" not in html and "Run match now" in html
    run.refresh_from_db()
    assert run.status == MatchRun.Status.SUCCEEDED and run.created == 1


def test_another_organizations_run_is_a_404(manager_client):
    from tests.factories import MatchRunFactory

    other = MatchRunFactory()
    assert manager_client.get(reverse("pipeline:match_run_status", args=[other.pk])).status_code == 404


def test_the_board_polls_a_run_that_is_already_going(priced, officer_client):
    run = MatchRun.objects.create(organization=priced, as_of=dt.date.today(), status="running", rule="flat")
    html = officer_client.get(reverse("pipeline:board")).content.decode()
    assert reverse("pipeline:match_run_status", args=[run.pk]) in html
    assert 'hx-trigger="match-finished from:body"' in html


def test_run_match_now_is_post_only(manager_client):
    assert manager_client.get(reverse("pipeline:run_match")).status_code == 405


def test_loan_officers_cannot_run_the_match(priced, officer_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert officer_client.post(reverse("pipeline:run_match")).status_code == 403
    assert not MatchRun.objects.exists()


def test_run_match_now_needs_a_login(client):
    response = client.post(reverse("pipeline:run_match"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_run_match_now_does_not_redirect_off_site(priced, manager_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(reverse("pipeline:run_match"), {"next": "https://evil.example.com/"})
    assert response.url == "/"


def test_admin_action_runs_the_match(priced, org_admin, django_capture_on_commit_callbacks):
    client = admin_client(org_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:core_organization_changelist"),
            {"action": "run_match_now", "_selected_action": [priced.pk]},
        )
    assert response.status_code == 302
    assert MatchRun.objects.get().organization == priced


def test_admin_adds_default_bands(priced, org_admin):
    ThresholdRuleFactory(organization=priced, product_type="jumbo", min_balance=Decimal("0"))
    client = admin_client(org_admin)
    response = client.post(
        reverse("admin:pipeline_thresholdrule_changelist"),
        {"action": "add_default_bands", "_selected_action": [ThresholdRule.objects.get().pk]},
    )
    assert response.status_code == 302
    assert ThresholdRule.objects.filter(organization=priced).count() == 9


def test_admin_refuses_overlapping_bands(priced, org_admin):
    ThresholdRuleFactory(organization=priced, product_type="conforming", min_balance=Decimal("150000.00"))
    client = admin_client(org_admin)
    response = client.post(
        reverse("admin:pipeline_thresholdrule_add"),
        {"product_type": "conforming", "min_balance": "100000.00", "max_balance": "200000.00", "min_spread": "0.7"},
    )
    assert response.status_code == 200
    assert "overlaps" in response.content.decode()
    response = client.post(
        reverse("admin:pipeline_thresholdrule_add"),
        {"product_type": "conforming", "min_balance": "0.00", "max_balance": "150000.00", "min_spread": "0.9"},
    )
    assert response.status_code == 302
    assert ThresholdRule.objects.filter(organization=priced).count() == 2
