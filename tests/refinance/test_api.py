from __future__ import annotations

import datetime as dt
import io
import json
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, RequestFactory

from core.models import ApiToken
from loans.models import Loan
from pipeline.models import Opportunity
from refinance.api.errors import server_error
from refinance.api.idempotency import request_hash
from refinance.api.parsing import loads, parse_initiate
from refinance.api.tokens import api_token_create, api_token_revoke, token_hash
from refinance.models import IdempotencyRecord, RefinanceTransaction
from tests.factories import (
    LoanFactory,
    LoanOfficerFactory,
    LoanProductFactory,
    OpportunityFactory,
    OrgAdminFactory,
)

pytestmark = pytest.mark.django_db
URL = "/api/bpm/cmd"
NOW = dt.datetime(2026, 11, 22, 15, 0, 15, tzinfo=dt.UTC)  # 09:00:15 in Chicago


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def loan(officer):
    return LoanFactory(loan_officer=officer, loan_number="LN-12345")


@pytest.fixture
def product(loan):
    return LoanProductFactory(organization=loan.organization)


@pytest.fixture
def integration(officer):
    """An org admin's token: it may act on every loan of the organization."""
    admin = OrgAdminFactory(organization=officer.organization)
    token, raw = api_token_create(organization=officer.organization, user=admin.user, name="LOS")
    return token, raw


@pytest.fixture
def raw_token(integration):
    return integration[1]


def command(**data):
    body = {
        "existingLoanId": "LN-12345",
        "newLoanProductId": "CONF30",
        "newLoanAmount": 395000.00,
        "newInterestRate": 6.125,
        "newTermMonths": 360,
        "refinanceReason": "Lower interest rate",
        "effectiveDate": "2026-12-22",
        "cashOutAmount": 0,
        "notes": "Rate reduction refinance - no cash out",
    }
    body.update(data)
    return {"cmd": "InitiateLoanRefinanceCommand", "data": {k: v for k, v in body.items() if v is not ...}}


def post(body, *, token, tenant="lender", key=None, raw=None, content_type="application/json", client=None):
    headers = {"X-Tenant-ID": tenant} if tenant is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    payload = raw if raw is not None else json.dumps(body, default=str)
    return (client or Client()).post(URL, payload, content_type=content_type, headers=headers)


@pytest.fixture
def call(raw_token, officer):
    slug = officer.organization.slug

    def _call(body, **kwargs):
        kwargs.setdefault("token", raw_token)
        kwargs.setdefault("tenant", slug)
        return post(body, **kwargs)

    return _call


# --- 200 -----------------------------------------------------------------------------------------------------


def test_initiate_returns_the_seed_success_body(call, loan, product):
    opportunity = OpportunityFactory(loan=loan)
    response = call(command())
    assert response.status_code == 200
    refinance = RefinanceTransaction.objects.get()
    assert response.json() == {
        "success": True,
        "message": "Loan refinance initiated successfully",
        "data": {
            "transactionId": refinance.reference,
            "existingLoanId": "LN-12345",
            "newLoanId": "LN-12345-R1",
            "existingBalance": "388720.29",
            "newLoanAmount": "395000.00",
            "cashOutAmount": "0.00",
            "closingCosts": "5450.00",
            "effectiveDate": "2026-12-22",
            "status": "initiated",
        },
    }
    assert refinance.new_loan.status == Loan.Status.PENDING
    opportunity.refresh_from_db()
    assert opportunity.stage == Opportunity.Stage.APPLICATION
    assert opportunity.activities.filter(kind="refinance_initiated").get().data["channel"] == "api"


def test_data_may_be_a_json_encoded_string_with_numeric_strings(call, loan, product):
    body = command(newLoanAmount="395000", newInterestRate="6.125", newTermMonths="360", cashOutAmount="0.00")
    body["data"] = json.dumps(body["data"])
    response = call(body)
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["newLoanAmount"] == "395000.00"


def test_effective_datetime_is_read_in_the_lenders_timezone(call, loan, product):
    # 03:00 UTC on Dec 23 is 21:00 on Dec 22 in Chicago.
    response = call(command(effectiveDate="2026-12-23T03:00:00.000Z"))
    assert response.json()["data"]["effectiveDate"] == "2026-12-22"


def test_optional_fields_may_be_absent(call, loan, product):
    response = call(command(cashOutAmount=..., notes=...))
    assert response.status_code == 200
    assert response.json()["data"]["cashOutAmount"] == "0.00"


# --- 404 / tenant isolation ----------------------------------------------------------------------------------


NOT_FOUND = {"success": False, "message": "Existing loan not found"}


def test_unknown_loan_is_404(call, product):
    response = call(command(existingLoanId="LN-00000"))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_another_tenants_loan_is_404_never_422(call, loan, product):
    other = LoanFactory(loan_number="LN-99999", days_past_due=90, credit_score=500)  # would fail every rule
    LoanProductFactory(organization=other.organization)
    response = call(command(existingLoanId="LN-99999"))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert not RefinanceTransaction.objects.exists()


def test_a_loan_officers_token_sees_only_their_loans(loan, product, officer):
    colleague = LoanOfficerFactory(branch=officer.branch, organization=officer.organization)
    LoanFactory(loan_officer=colleague, loan_number="LN-COLLEAGUE")
    _, raw = api_token_create(organization=officer.organization, user=officer.user, name="mine")
    response = post(command(existingLoanId="LN-COLLEAGUE"), token=raw, tenant=officer.organization.slug)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert post(command(), token=raw, tenant=officer.organization.slug).status_code == 200


# --- 422 -----------------------------------------------------------------------------------------------------


def test_business_rules_fail_together_as_422(call, loan, product):
    Loan.objects.filter(pk=loan.pk).update(days_past_due=30, credit_score=600)
    response = call(command(newLoanAmount=380000, effectiveDate="2026-11-01"))
    assert response.status_code == 422
    assert response.json() == {
        "success": False,
        "message": "Loan refinance validation failed",
        "errors": [
            "Loan LN-12345 is 30 days past due: it must be current (0 days past due) to be refinanced.",
            "The effective date 2026-11-01 is in the past (today is 2026-11-22 in America/Chicago).",
            "The borrower's credit score of 600 is below loan product CONF30's minimum of 620.",
            "The new loan amount of $380,000.00 does not pay off the existing loan in full: it must be at least "
            "$392,922.40 (payoff $387,493.18 + closing costs $5,429.22 + cash-out $0.00).",
        ],
    }
    assert not RefinanceTransaction.objects.exists()


def test_unknown_or_foreign_product_is_422_does_not_exist(call, loan):
    LoanProductFactory(code="FOREIGN")  # another organization's product
    for code in ("NOPE", "FOREIGN"):
        response = call(command(newLoanProductId=code))
        assert (response.status_code, response.json()) == (
            422,
            {
                "success": False,
                "message": "Loan refinance validation failed",
                "errors": [f"Loan product '{code}' does not exist."],
            },
        )


def test_second_initiation_of_the_same_loan_is_422(call, loan, product):
    first = call(command()).json()["data"]["transactionId"]
    response = call(command())
    assert response.status_code == 422
    assert response.json()["errors"] == [f"Loan LN-12345 is already being refinanced (refinance {first})."]


# --- 400 -----------------------------------------------------------------------------------------------------


def invalid(*errors):
    return {
        "success": False,
        "message": "Invalid request parameters",
        "errors": [{"field": f, "message": m} for f, m in errors],
    }


def test_missing_fields_are_all_reported(call, loan, product):
    response = call({"cmd": "InitiateLoanRefinanceCommand", "data": {}})
    assert response.status_code == 400
    assert response.json() == invalid(
        ("existingLoanId", "This field is required."),
        ("newLoanProductId", "This field is required."),
        ("newLoanAmount", "This field is required."),
        ("newInterestRate", "This field is required."),
        ("newTermMonths", "This field is required."),
        ("refinanceReason", "This field is required."),
        ("effectiveDate", "This field is required."),
    )


NUMBER = 'Must be a number (a JSON number or a numeric string such as "1234.56").'


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("newLoanAmount", "lots", NUMBER),
        ("newLoanAmount", True, NUMBER),
        ("newLoanAmount", [1], NUMBER),
        ("newLoanAmount", "1e5", NUMBER),
        ("newLoanAmount", 0, "Must be greater than 0."),
        ("newLoanAmount", -5, "Must be greater than 0."),
        ("newLoanAmount", "395000.001", "Must have at most 2 decimal places."),
        ("newLoanAmount", 1e12, "Must be at most 99,999,999,999.99."),
        ("newInterestRate", 0, "Must be greater than 0."),
        ("newInterestRate", 25.5, "Must be at most 25."),
        ("newInterestRate", "6.1255", "Must have at most 3 decimal places."),
        ("newTermMonths", 360.5, "Must be a whole number."),
        ("newTermMonths", "thirty years", "Must be a whole number."),
        ("newTermMonths", 6, "Must be between 12 and 480."),
        ("newTermMonths", 481, "Must be between 12 and 480."),
        ("cashOutAmount", -1, "Must be 0 or more."),
        ("cashOutAmount", "1.5.0", NUMBER),
        (
            "effectiveDate",
            "22/12/2026",
            "Must be an ISO 8601 date or date-time, e.g. 2026-12-22 or 2026-12-22T15:00:00Z.",
        ),
        ("effectiveDate", "9999-12-31", "Must be between 2000-01-01 and 2100-12-31."),
        ("effectiveDate", 20261222, "Must be an ISO 8601 date or date-time, e.g. 2026-12-22 or 2026-12-22T15:00:00Z."),
        ("existingLoanId", 12345, "Must be a string."),
        ("existingLoanId", "   ", "This field may not be blank."),
        ("existingLoanId", "x" * 41, "Must be at most 40 characters."),
        ("newLoanProductId", "CONF\x0030", "Must not contain NUL characters."),
        ("refinanceReason", "r" * 201, "Must be at most 200 characters."),
        ("notes", 5, "Must be a string."),
        ("surprise", 1, "Unknown field."),
    ],
)
def test_malformed_fields_are_400(call, loan, product, field, value, message):
    response = call(command(**{field: value}))
    assert (response.status_code, response.json()) == (400, invalid((field, message)))
    assert not RefinanceTransaction.objects.exists()


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        ("{not json", [("body", "The request body is not valid JSON.")]),
        (
            '{"cmd": "InitiateLoanRefinanceCommand", "data": {"newLoanAmount": NaN}}',
            [("body", "The request body is not valid JSON.")],
        ),
        ("[1, 2]", [("body", "The request body must be a JSON object with cmd and data.")]),
        (
            '{"cmd": "DeleteEverythingCommand", "data": {}}',
            [("cmd", "Unknown command: use InitiateLoanRefinanceCommand or CalculateRefinanceAmountQuery.")],
        ),
        ('{"data": {}}', [("cmd", "This field is required.")]),
        ('{"cmd": "InitiateLoanRefinanceCommand"}', [("data", "This field is required.")]),
        (
            '{"cmd": "InitiateLoanRefinanceCommand", "data": "{oops"}',
            [("data", "Must be a JSON object, or a string that encodes one.")],
        ),
        (
            '{"cmd": "InitiateLoanRefinanceCommand", "data": [1]}',
            [("data", "Must be a JSON object, or a string that encodes one.")],
        ),
    ],
)
def test_malformed_envelopes_are_400(call, raw, errors):
    response = call(None, raw=raw)
    assert (response.status_code, response.json()) == (400, invalid(*errors))


def test_body_must_be_sent_as_json(call, loan, product):
    response = call(command(), content_type="text/plain")
    assert (response.status_code, response.json()) == (
        400,
        invalid(("Content-Type", "Send the body as application/json.")),
    )


# --- 401 / 403 / 405 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Token abc", "Bearer", "Basic dXNlcjpwYXNz"])
def test_missing_bearer_token_is_401(officer, header):
    headers = {"X-Tenant-ID": officer.organization.slug}
    if header:
        headers["Authorization"] = header
    response = Client().post(URL, json.dumps(command()), content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "message": "Authentication required: send Authorization: Bearer <token>.",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="refiapp"'


INVALID_TOKEN = {"success": False, "message": "The API token is invalid or has been revoked."}


def test_unknown_revoked_or_orphaned_tokens_are_401(integration, officer, loan, product):
    token, raw = integration
    slug = officer.organization.slug
    assert post(command(), token="rfa_not-a-real-token", tenant=slug).json() == INVALID_TOKEN
    token.user.loan_officer.is_active = False
    token.user.loan_officer.save()
    response = post(command(), token=raw, tenant=slug)
    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    token.user.loan_officer.is_active = True
    token.user.loan_officer.save()
    api_token_revoke(token=token)
    response = post(command(), token=raw, tenant=slug)
    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    assert response["WWW-Authenticate"] == 'Bearer realm="refiapp", error="invalid_token"'


def test_tenant_header_of_another_org_is_403(raw_token, loan, product):
    other = LoanFactory().organization
    response = post(command(), token=raw_token, tenant=other.slug)
    assert (response.status_code, response.json()) == (
        403,
        {"success": False, "message": "The X-Tenant-ID header does not match the API token's organization."},
    )


def test_tenant_header_is_required(raw_token, loan, product):
    response = post(command(), token=raw_token, tenant=None)
    assert (response.status_code, response.json()) == (
        400,
        invalid(("X-Tenant-ID", "This header is required: your organization's id.")),
    )


def test_header_names_are_case_insensitive(raw_token, officer, loan, product):
    response = Client().post(
        URL,
        json.dumps(command()),
        content_type="application/json",
        headers={"authorization": f"bearer {raw_token}", "x-tenant-id": officer.organization.slug},
    )
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405(raw_token, officer, method):
    response = getattr(Client(), method)(URL, headers={"Authorization": f"Bearer {raw_token}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {
        "success": False,
        "message": f"Method {method.upper()} is not allowed: send a POST with a JSON body.",
    }


# --- 413 and JSON for every error ---------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_json_413(call, loan, product, settings):
    settings.API_MAX_BODY_BYTES = 4096
    padded = command(notes="x" * 5000)
    response = call(padded)
    assert response.status_code == 413 and response["Content-Type"] == "application/json"
    assert response.json() == {
        "success": False,
        "message": "The request body is larger than the 4,096 bytes allowed.",
    }
    assert not RefinanceTransaction.objects.exists()


def test_a_60_mb_body_is_a_json_413_not_djangos_html_400(call, loan, product):
    """Over DATA_UPLOAD_MAX_MEMORY_SIZE Django itself would answer with its HTML 400 page."""
    big = json.dumps(command(notes="x" * (60 * 1024 * 1024)))
    response = call(None, raw=big)
    assert response.status_code == 413
    assert response.json()["message"] == "The request body is larger than the 65,536 bytes allowed."


def test_a_declared_length_over_the_limit_is_refused_before_reading(raw_token, officer, loan, product):
    headers = {"Authorization": f"Bearer {raw_token}", "X-Tenant-ID": officer.organization.slug}
    response = Client().post(
        URL, json.dumps(command()), content_type="application/json", headers=headers, CONTENT_LENGTH="62914560"
    )
    assert response.status_code == 413 and response.json()["success"] is False


def test_unknown_api_paths_and_internal_errors_answer_json(raw_token):
    response = Client().post("/api/bpm/nope", "{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["success"] is False
    assert response.json()["message"] == "No API endpoint at /api/bpm/nope: send commands to POST /api/bpm/cmd."
    assert Client().get("/no-such-page/").headers["Content-Type"].startswith("text/html")
    error = server_error(RequestFactory().post(URL))
    assert (error.status_code, json.loads(error.content)["success"]) == (500, False)


def test_last_use_is_recorded(call, integration, loan, product):
    token = integration[0]
    assert token.last_used_at is None
    call(command(existingLoanId="nope"))
    token.refresh_from_db()
    assert token.last_used_at == NOW


# --- Idempotency ---------------------------------------------------------------------------------------------


def test_same_key_and_request_replays_the_first_response(call, loan, product):
    first = call(command(), key="refi-LN-12345-1")
    # The same request with numbers written differently is the same request.
    again = call(command(newLoanAmount="395000", cashOutAmount="0.00"), key="refi-LN-12345-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert RefinanceTransaction.objects.count() == 1
    assert RefinanceTransaction.objects.get().idempotency_key == "refi-LN-12345-1"


def test_same_key_with_a_different_request_is_422(call, loan, product):
    call(command(), key="k-1")
    response = call(command(newLoanAmount=400000), key="k-1")
    assert (response.status_code, response.json()) == (
        422,
        {
            "success": False,
            "message": "Idempotency-Key reused with a different request",
            "errors": ["This Idempotency-Key was first used with a different request; use a new key."],
        },
    )
    assert RefinanceTransaction.objects.count() == 1


def test_a_rule_failure_is_replayed_too(call, loan, product):
    first = call(command(newLoanAmount=1000), key="k-2")
    assert first.status_code == 422
    assert call(command(newLoanAmount=1000), key="k-2").json() == first.json()


def test_a_400_does_not_use_up_the_key(call, loan, product):
    assert call(command(newLoanAmount="x"), key="k-3").status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert call(command(), key="k-3").status_code == 200


def digest_of(body) -> str:
    data = loads(json.dumps(body["data"]))
    return request_hash(parse_initiate(data, tz=ZoneInfo("America/Chicago")).canonical())


def test_a_key_still_in_flight_is_409(call, loan, product, officer, integration):
    IdempotencyRecord.objects.create(
        organization=officer.organization, token=integration[0], key="k-4", request_hash=digest_of(command())
    )
    response = call(command(), key="k-4")
    assert (response.status_code, response.json()) == (
        409,
        {"success": False, "message": "A request with this Idempotency-Key is still being processed; retry shortly."},
    )
    assert not RefinanceTransaction.objects.exists()


def test_an_abandoned_claim_is_taken_over(call, loan, product, officer, integration):
    IdempotencyRecord.objects.create(
        organization=officer.organization, token=integration[0], key="k-5", request_hash=digest_of(command())
    )
    IdempotencyRecord.objects.filter(key="k-5").update(created_at=NOW - dt.timedelta(minutes=10))
    assert call(command(), key="k-5").status_code == 200
    assert IdempotencyRecord.objects.get(key="k-5").response_status == 200


def test_keys_are_per_tenant(call, loan, product):
    other_admin = OrgAdminFactory()
    other_loan = LoanFactory(
        loan_number="LN-12345",
        loan_officer=LoanOfficerFactory(
            organization=other_admin.organization, branch__organization=other_admin.organization
        ),
    )
    LoanProductFactory(organization=other_loan.organization)
    _, other_raw = api_token_create(organization=other_admin.organization, user=other_admin.user, name="x")
    mine = call(command(), key="shared-key")
    theirs = post(command(), token=other_raw, tenant=other_admin.organization.slug, key="shared-key")
    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["data"]["transactionId"] != theirs.json()["data"]["transactionId"]
    assert RefinanceTransaction.objects.count() == 2


def test_keys_are_per_token_a_colleague_never_gets_my_transaction(call, loan, product, officer):
    slug = officer.organization.slug
    tokens = []
    for name in ("Colleague", "Second colleague"):
        colleague = OrgAdminFactory(organization=officer.organization)
        tokens.append(api_token_create(organization=officer.organization, user=colleague.user, name=name)[1])
    mine = call(command(), key="shared-key")
    assert mine.status_code == 200
    # A colleague replaying my key with my request gets their own processing (the loan is already being
    # refinanced), not my stored response with my transaction.
    theirs = post(command(), token=tokens[0], tenant=slug, key="shared-key")
    assert "Idempotent-Replayed" not in theirs
    assert theirs.status_code == 422 and theirs.json()["message"] == "Loan refinance validation failed"
    assert "data" not in theirs.json()
    # Another colleague may use the same key for another loan and gets a transaction of their own.
    LoanFactory(loan_officer=officer, loan_number="LN-777")
    other = post(command(existingLoanId="LN-777"), token=tokens[1], tenant=slug, key="shared-key")
    assert other.status_code == 200
    assert other.json()["data"]["existingLoanId"] == "LN-777"
    assert other.json()["data"]["transactionId"] != mine.json()["data"]["transactionId"]
    assert RefinanceTransaction.objects.count() == 2
    # Each token's retry replays its own first response.
    again = call(command(), key="shared-key")
    assert again["Idempotent-Replayed"] == "true" and again.json() == mine.json()
    replay = post(command(existingLoanId="LN-777"), token=tokens[1], tenant=slug, key="shared-key")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == other.json()
    assert IdempotencyRecord.objects.filter(key="shared-key").count() == 3


def test_idempotency_key_must_be_visible_ascii(call, loan, product):
    response = call(command(), key="x" * 256)
    assert (response.status_code, response.json()) == (
        400,
        invalid(("Idempotency-Key", "Must be 1 to 255 visible ASCII characters.")),
    )


# --- Rate limit ----------------------------------------------------------------------------------------------


def test_rate_limit_per_token_answers_429_with_retry_after(call, settings, officer, integration):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    assert call(command(existingLoanId="a")).status_code == 404
    assert call(command(existingLoanId="a")).status_code == 404
    response = call(command(existingLoanId="a"))
    assert response.status_code == 429
    assert response["Retry-After"] == "45"
    assert response.json() == {
        "success": False,
        "message": "Rate limit exceeded: 2 requests per minute per token. Retry in 45 seconds.",
    }
    # Another token has its own budget; the next minute starts afresh.
    _, other = api_token_create(organization=officer.organization, user=integration[0].user, name="second")
    assert call(command(existingLoanId="a"), token=other).status_code == 404
    with time_machine.travel(NOW + dt.timedelta(seconds=45), tick=False):
        assert call(command(existingLoanId="a")).status_code == 404


# --- CalculateRefinanceAmountQuery ---------------------------------------------------------------------------


def test_calculate_returns_payoff_costs_and_limits(call, loan, product):
    response = call(
        {
            "cmd": "CalculateRefinanceAmountQuery",
            "data": {
                "existingLoanId": "LN-12345",
                "newLoanProductId": "CONF30",
                "cashOutAmount": "20000",
                "effectiveDate": "2026-12-22",
            },
        }
    )
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Refinance amounts calculated",
        "data": {
            "existingLoanId": "LN-12345",
            "newLoanProductId": "CONF30",
            "effectiveDate": "2026-12-22",
            "principalBalance": "387105.58",
            "accruedInterest": "1614.71",
            "interestFrom": "2026-12-01",
            "payoffFees": "0.00",
            "payoffAmount": "388720.29",
            "cashOutAmount": "20000.00",
            "closingCosts": "5643.64",
            "minimumLoanAmount": "414363.93",
            "maximumLoanAmount": "416000.00",
            "maximumCashOut": "21619.71",
            "propertyValue": "520000.00",
            "maxLtv": "80.00",
        },
    }
    assert not RefinanceTransaction.objects.exists()


def test_calculate_defaults_to_an_effective_date_30_days_out(call, loan, product):
    data = {"existingLoanId": "LN-12345", "newLoanProductId": "CONF30"}
    response = call({"cmd": "CalculateRefinanceAmountQuery", "data": data})
    assert response.json()["data"]["effectiveDate"] == "2026-12-22"
    assert response.json()["data"]["payoffAmount"] == "388720.29"


def test_calculate_is_tenant_scoped(call, loan, product):
    LoanFactory(loan_number="LN-OTHER")
    response = call(
        {"cmd": "CalculateRefinanceAmountQuery", "data": {"existingLoanId": "LN-OTHER", "newLoanProductId": "CONF30"}}
    )
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    response = call(
        {"cmd": "CalculateRefinanceAmountQuery", "data": {"existingLoanId": "LN-12345", "newLoanProductId": "X"}}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == ["Loan product 'X' does not exist."]


# --- Concurrency ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_creates_one_transaction(officer):
    loan = LoanFactory(loan_officer=officer, loan_number="LN-12345")
    LoanProductFactory(organization=loan.organization)
    admin = OrgAdminFactory(organization=officer.organization)
    _, raw = api_token_create(organization=officer.organization, user=admin.user, name="LOS")
    barrier = threading.Barrier(2)
    responses = []

    def submit() -> None:
        try:
            barrier.wait(timeout=10)
            responses.append(post(command(), token=raw, tenant=officer.organization.slug))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 422]
    loser = next(r for r in responses if r.status_code == 422).json()
    winner = RefinanceTransaction.objects.get()
    assert loser["errors"] == [f"Loan LN-12345 is already being refinanced (refinance {winner.reference})."]
    assert Loan.objects.filter(source="refinance").count() == 1


# --- Tokens --------------------------------------------------------------------------------------------------


def test_tokens_are_stored_hashed(integration):
    token, raw = integration
    stored = ApiToken.objects.get()
    assert stored.token_hash == token_hash(raw) != raw
    assert raw.startswith("rfa_") and stored.prefix == raw[:12]
    assert raw not in json.dumps(list(ApiToken.objects.values()), default=str)


def test_create_api_token_command_prints_a_working_token(officer, loan, product):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", officer.user.username, "--name", "nightly", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    token = ApiToken.objects.get(token_hash=token_hash(raw))
    assert (token.name, token.user, token.organization) == ("nightly", officer.user, officer.organization)
    assert "will not be shown again" in err.getvalue()
    assert post(command(), token=raw, tenant=officer.organization.slug).status_code == 200


def test_create_api_token_command_needs_a_staff_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost")
    get_user_model().objects.create_user("nobody", password="x")
    with pytest.raises(CommandError, match="no active staff profile"):
        call_command("create_api_token", "nobody")
    assert not ApiToken.objects.exists()


def test_money_in_responses_has_two_decimals(call, loan, product):
    data = call(command(newLoanAmount=395000)).json()["data"]
    for key in ("existingBalance", "newLoanAmount", "cashOutAmount", "closingCosts"):
        assert Decimal(data[key]).as_tuple().exponent == -2
