"""Login throttling (django-axes): failures per username and per client IP lock logging in for a while, on the
app's login page and on the admin's, with a clear page; the right password does not get through meanwhile."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client, RequestFactory

from refiapp.security import client_ip, lockout_parameters
from tests.factories import LoanOfficerFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
RIGHT = "pass-12345"


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def officer():  # type: ignore[no-untyped-def]
    return LoanOfficerFactory(user=UserFactory(username="olivia"))


def attempt(path: str, username: str, password: str, *, ip: str = "203.0.113.7"):  # type: ignore[no-untyped-def]
    return Client(REMOTE_ADDR=ip).post(path, {"username": username, "password": password})


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_right_password_is_refused_after_five_failures_with_a_clear_message(officer, path, frozen):
    officer.user.is_staff = True
    officer.user.save()
    for _ in range(4):
        assert attempt(path, "olivia", "wrong").status_code == 200  # the form again, with its error
    locked = attempt(path, "olivia", "wrong")
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Logging in is paused" in text and "for 15 minutes" in text and "5 in a row" in text
    refused = attempt(path, "olivia", RIGHT)
    assert refused.status_code == 429 and "_auth_user_id" not in refused.client.session
    # From another address the account is still paused (failures are counted per username too).
    assert attempt(path, "olivia", RIGHT, ip="198.51.100.9").status_code == 429
    frozen.shift(dt.timedelta(minutes=16))
    welcome = attempt(path, "olivia", RIGHT)
    assert welcome.status_code == 302 and welcome.client.session["_auth_user_id"] == str(officer.user.pk)


def test_one_address_trying_many_usernames_is_paused(officer):
    for n in range(5):
        attempt("/accounts/login/", f"guess{n}", "wrong", ip="192.0.2.50")
    assert attempt("/accounts/login/", "olivia", RIGHT, ip="192.0.2.50").status_code == 429
    assert attempt("/accounts/login/", "olivia", RIGHT, ip="192.0.2.51").status_code == 302


def test_a_successful_login_resets_the_count(officer):
    for _ in range(4):
        attempt("/accounts/login/", "olivia", "wrong")
    assert attempt("/accounts/login/", "olivia", RIGHT).status_code == 302
    for _ in range(4):
        assert attempt("/accounts/login/", "olivia", "wrong").status_code == 200
    assert attempt("/accounts/login/", "olivia", RIGHT).status_code == 302


def test_client_ip_trusts_only_the_configured_proxies(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"  # the client wrote 6.6.6.6 itself
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.2"  # fewer entries than proxies: not trusted


def test_lockout_parameters_from_the_environment():
    assert lockout_parameters(["username", "ip_address"]) == ["username", "ip_address"]
    assert lockout_parameters(["username+ip_address"]) == [["username", "ip_address"]]
