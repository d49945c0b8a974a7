"""The OpenAPI document at /api/schema/ and a schemathesis run against the app, in process (WSGI).

Generated requests carry a real token and tenant; every other request swaps in the real loan number and
product code, so the run reaches the 200 and 422 paths as well as 400 / 404. Checks: no 5xx, and every
status code, content type, header and body conforms to the document.
"""

from __future__ import annotations

import itertools
import json

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from refiapp.wsgi import application
from refinance.api.openapi import build_schema
from refinance.api.tokens import api_token_create
from tests.factories import LoanFactory, LoanProductFactory, OrgAdminFactory

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def in_process(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    # Like Django's test client: the test's transaction must survive the end of each in-process request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tenant(db):
    cache.clear()
    admin = OrgAdminFactory()
    loan = LoanFactory(
        loan_number="LN-12345",
        loan_officer__organization=admin.organization,
        loan_officer__branch__organization=admin.organization,
    )
    LoanProductFactory(organization=admin.organization)
    _, raw = api_token_create(organization=admin.organization, user=admin.user, name="schemathesis")
    return {"token": raw, "slug": admin.organization.slug, "loan": loan, "turn": itertools.count()}


# The same document /api/schema/ serves (a test below checks that); requests go to the WSGI app in process.
schema = schemathesis.openapi.from_dict(build_schema())
schema.app = application


@schema.parametrize()
@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, tenant, in_process):
    data = case.body.get("data") if isinstance(case.body, dict) else None
    if isinstance(data, dict) and next(tenant["turn"]) % 2 == 0:
        data["existingLoanId"] = "LN-12345"
        data["newLoanProductId"] = "CONF30"
    response = case.call(headers={"Authorization": f"Bearer {tenant['token']}", "X-Tenant-ID": tenant["slug"]})
    case.validate_response(response, checks=CHECKS)


def test_schema_document_describes_the_endpoint(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    document = response.json()
    assert document == json.loads(json.dumps(build_schema()))
    assert document["openapi"] == "3.1.0"
    operation = document["paths"]["/api/bpm/cmd"]["post"]
    assert sorted(operation["responses"]) == ["200", "400", "401", "403", "404", "409", "413", "422", "429"]
    headers = {p["name"]: p["required"] for p in operation["parameters"]}
    assert headers == {"X-Tenant-ID": True, "Idempotency-Key": False}
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token created in admin or with `manage.py create_api_token USERNAME`.",
    }
    commands = document["components"]["schemas"]["CommandEnvelope"]["oneOf"]
    assert [c["$ref"].rsplit("/", 1)[1] for c in commands] == ["InitiateCommand", "CalculateCommand"]
    assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True


def test_schema_is_a_valid_openapi_document():
    loaded = schemathesis.openapi.from_dict(build_schema())
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert [(op.method.upper(), op.path) for op in operations] == [("POST", "/api/bpm/cmd")]
