from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail

from los.models import Application
from tests.factories import BorrowerFactory

# Monday 2026-11-30 15:00 UTC = 9:00 in Chicago (the factories' organization zone).
MONDAY_9AM = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"


@pytest.fixture
def frozen(time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(MONDAY_9AM, tick=False)
    return time_machine


def borrower_mail() -> list[Any]:
    """Outbox emails to borrowers (they carry List-Unsubscribe); the rest are staff notifications."""
    return [m for m in mail.outbox if "List-Unsubscribe" in m.extra_headers]


def officer_mail() -> list[Any]:
    return [m for m in mail.outbox if "List-Unsubscribe" not in m.extra_headers]


def application(officer: Any, **values: Any) -> Application:
    """An active LOS application of ``officer`` whose borrower consented to email and SMS."""
    borrower = (
        values.pop("borrower")
        if "borrower" in values
        else BorrowerFactory(organization=officer.organization, first_name="Lee", last_name="Applicant")
    )
    defaults = {
        "organization": officer.organization,
        "loan_officer": officer,
        "borrower": borrower,
        "loan_guid": f"guid-{getattr(borrower, 'pk', 0)}",
        "loan_number": f"APP-{getattr(borrower, 'pk', 0)}",
        "milestone": "Processing",
    }
    return Application.objects.create(**{**defaults, **values})
