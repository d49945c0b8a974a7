from __future__ import annotations

from typing import Any

import pytest

from tests.factories import OrgAdminFactory
from tests.los.fake_encompass import FakeEncompass, pipeline_loan

CLIENT_ID, SECRET, INSTANCE = "refi-client", "s3cr3t-client-secret", "BE11140034"


def closed_loan(guid: str, number: str, modified: str, **overrides: Any) -> dict[str, Any]:
    fields = {
        "Fields.364": number,
        "Fields.4000": "Maria",
        "Fields.4002": f"Lopez{number[-2:]}",
        "Fields.1240": f"maria{number}@example.com",
        "Fields.1490": "(312) 555-0142",
        "Fields.2": "412,000.00",
        "Fields.1109": "405,000.00",
        "Fields.3": "6.875",
        "Fields.4": "360",
        "Fields.748": "10/16/2023",
        "Fields.682": "12/01/2023",
        "Fields.1172": "Conventional",
        "Fields.608": "Fixed",
        "Fields.19": "Purchase",
        "Fields.420": "FirstLien",
        "Fields.1811": "PrimaryResidence",
        "Fields.356": "",
        "Fields.1821": "520,000.00",
        "Fields.11": "1200 W Madison St",
        "Fields.12": "Chicago",
        "Fields.14": "IL",
        "Fields.15": "60607",
        "Loan.CurrentMilestoneName": "Completion",
        "Loan.LoanOfficerName": "",
        "Loan.LastModified": modified,
    }
    fields.update(overrides)
    return {"loanGuid": guid, "fields": fields}


def active_loan(guid: str, number: str, modified: str, **overrides: Any) -> dict[str, Any]:
    loan = closed_loan(guid, number, modified)
    loan["fields"].update(
        {
            "Fields.748": "",
            "Fields.761": "09/02/2025",
            "Fields.762": "10/02/2025",
            "Loan.CurrentMilestoneName": "Processing",
        }
    )
    loan["fields"].update(overrides)
    return loan


@pytest.fixture
def admin(db):
    return OrgAdminFactory()


@pytest.fixture
def fake():
    with FakeEncompass(client_id=CLIENT_ID, client_secret=SECRET, instance_id=INSTANCE, loans=[]) as server:
        yield server


__all__ = ["active_loan", "closed_loan", "pipeline_loan"]
