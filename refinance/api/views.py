"""``POST /api/bpm/cmd``: authentication, tenant check, rate limit, then one handler per command.

Every response is JSON ``{"success": bool, "message": str, ...}`` (DESIGN §7); money is a string with
two decimals ("389123.45"), dates are ISO 8601 dates ("2026-12-22"). The view is thin: requests are
validated by ``loans.api.parsing`` and executed by ``loans.services.refinance``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from core.models import ApiToken
from loans.models import Loan
from refinance.api import parsing
from refinance.api.errors import body_too_large, too_large
from refinance.api.idempotency import (
    KEY_PATTERN,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    request_hash,
)
from refinance.api.openapi import build_schema
from refinance.api.ratelimit import rate_limit_hit
from refinance.api.tokens import api_token_authenticate, api_token_touch
from refinance.models import RefinanceTransaction
from refinance.services import (
    DEFAULT_EFFECTIVE_DAYS,
    RefinanceRulesFailed,
    organization_today,
    product_by_code,
    refinance_calculate,
    refinance_initiate,
)

INVALID = "Invalid request parameters"
NOT_FOUND = "Existing loan not found"
RULES_FAILED = "Loan refinance validation failed"
INITIATED = "Loan refinance initiated successfully"
CALCULATED = "Refinance amounts calculated"
IDEMPOTENCY_CONFLICT = "Idempotency-Key reused with a different request"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.01")), "f")


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JsonResponse:
    return _json(status, {"success": False, "message": message}, headers)


def _bad_request(errors: list[dict[str, str]]) -> JsonResponse:
    return _json(400, {"success": False, "message": INVALID, "errors": errors})


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _loans_for(token: ApiToken):  # type: ignore[no-untyped-def]
    """The loans this token may act on: what its user may see, inside the token's organization."""
    return Loan.objects.visible_to(token.user).for_organization(token.organization_id).select_related("organization")


@csrf_exempt
@never_cache
def command(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return _error(405, f"Method {request.method} is not allowed: send a POST with a JSON body.", {"Allow": "POST"})
    raw_token = _bearer(request)
    if raw_token is None:
        return _error(
            401,
            "Authentication required: send Authorization: Bearer <token>.",
            {"WWW-Authenticate": 'Bearer realm="refiapp"'},
        )
    token = api_token_authenticate(raw_token)
    if token is None:
        return _error(
            401,
            "The API token is invalid or has been revoked.",
            {"WWW-Authenticate": 'Bearer realm="refiapp", error="invalid_token"'},
        )
    limit = rate_limit_hit(token_id=token.pk)
    if not limit.allowed:
        return _error(
            429,
            f"Rate limit exceeded: {limit.limit} requests per minute per token. Retry in {limit.retry_after} seconds.",
            {"Retry-After": str(limit.retry_after)},
        )
    api_token_touch(token=token)
    tenant = request.headers.get("X-Tenant-ID", "").strip()
    if not tenant:
        return _bad_request([{"field": "X-Tenant-ID", "message": "This header is required: your organization's id."}])
    if tenant != token.organization.slug:
        return _error(403, "The X-Tenant-ID header does not match the API token's organization.")
    if request.content_type != "application/json":
        return _bad_request([{"field": "Content-Type", "message": "Send the body as application/json."}])
    if body_too_large(request):
        return too_large()
    try:
        body = request.body
    except RequestDataTooBig:  # no Content-Length (chunked) and more than DATA_UPLOAD_MAX_MEMORY_SIZE
        return too_large()
    try:
        cmd, data = parsing.parse_envelope(body)
        if cmd == parsing.INITIATE:
            return _initiate(request, token, data)
        return _calculate(token, data)
    except parsing.BadRequest as exc:
        return _bad_request(exc.errors)


def _initiate(request: HttpRequest, token: ApiToken, data: dict[str, Any]) -> JsonResponse:
    organization = token.organization
    command = parsing.parse_initiate(data, tz=organization.zone)
    key = request.headers.get("Idempotency-Key")
    record = None
    if key is not None:
        if not KEY_PATTERN.match(key):
            raise parsing.BadRequest(
                [{"field": "Idempotency-Key", "message": "Must be 1 to 255 visible ASCII characters."}]
            )
        claim = idempotency_claim(token=token, key=key, request_hash=request_hash(command.canonical()))
        if claim.conflict:
            return _json(
                422,
                {
                    "success": False,
                    "message": IDEMPOTENCY_CONFLICT,
                    "errors": ["This Idempotency-Key was first used with a different request; use a new key."],
                },
            )
        if claim.in_progress:
            return _error(409, "A request with this Idempotency-Key is still being processed; retry shortly.")
        if claim.replay is not None:
            assert claim.replay.response_status is not None and claim.replay.response_body is not None
            return _json(claim.replay.response_status, claim.replay.response_body, {"Idempotent-Replayed": "true"})
        record = claim.record
    try:
        with transaction.atomic():
            status, body = _initiate_execute(token, command, key or "")
            if record is not None:
                idempotency_complete(record=record, status=status, body=body)
    except BaseException:
        if record is not None:
            idempotency_release(record=record)
        raise
    return _json(status, body)


def _initiate_execute(token: ApiToken, command: parsing.InitiateCommand, key: str) -> tuple[int, dict[str, Any]]:
    loan = _loans_for(token).filter(loan_number=command.existing_loan_id).first()
    if loan is None:
        return 404, {"success": False, "message": NOT_FOUND}
    try:
        refinance: RefinanceTransaction = refinance_initiate(
            loan=loan,
            product_code=command.product_code,
            new_amount=command.new_amount,
            new_rate=command.new_rate,
            new_term_months=command.new_term_months,
            reason=command.reason,
            effective_date=command.effective_date,
            rate_lock_expiration=command.rate_lock_expiration,
            cash_out_amount=command.cash_out_amount,
            notes=command.notes,
            actor=token.user,
            idempotency_key=key,
            channel="api",
        )
    except RefinanceRulesFailed as exc:
        return 422, {"success": False, "message": RULES_FAILED, "errors": exc.messages}
    assert refinance.new_loan is not None
    return 200, {
        "success": True,
        "message": INITIATED,
        "data": {
            "transactionId": refinance.reference,
            "existingLoanId": loan.loan_number,
            "newLoanId": refinance.new_loan.loan_number,
            "existingBalance": _money(refinance.existing_balance),
            "newLoanAmount": _money(refinance.new_amount),
            "cashOutAmount": _money(refinance.cash_out_amount),
            "closingCosts": _money(refinance.closing_costs),
            "effectiveDate": refinance.effective_date.isoformat(),
            "status": refinance.status,
        },
    }


def _calculate(token: ApiToken, data: dict[str, Any]) -> JsonResponse:
    organization = token.organization
    query = parsing.parse_calculate(data, tz=organization.zone)
    loan = _loans_for(token).filter(loan_number=query.existing_loan_id).first()
    if loan is None:
        return _error(404, NOT_FOUND)
    product = product_by_code(organization=organization, code=query.product_code)
    if product is None:
        return _json(
            422,
            {
                "success": False,
                "message": RULES_FAILED,
                "errors": [f"Loan product {query.product_code!r} does not exist."],
            },
        )
    effective = query.effective_date or organization_today(organization) + dt.timedelta(days=DEFAULT_EFFECTIVE_DAYS)
    quote = refinance_calculate(
        loan=loan, product=product, effective_date=effective, cash_out_amount=query.cash_out_amount
    )
    return _json(
        200,
        {
            "success": True,
            "message": CALCULATED,
            "data": {
                "existingLoanId": loan.loan_number,
                "newLoanProductId": product.code,
                "effectiveDate": effective.isoformat(),
                "principalBalance": _money(quote.payoff.principal),
                "accruedInterest": _money(quote.payoff.accrued_interest),
                "interestFrom": quote.payoff.interest_from.isoformat(),
                "payoffFees": _money(quote.payoff.fees),
                "payoffAmount": _money(quote.payoff.total),
                "cashOutAmount": _money(quote.cash_out_amount),
                "closingCosts": _money(quote.closing_costs),
                "minimumLoanAmount": _money(quote.minimum_amount),
                "maximumLoanAmount": _money(quote.maximum_amount),
                "maximumCashOut": _money(quote.maximum_cash_out),
                "propertyValue": _money(quote.property_value),
                "maxLtv": format(quote.max_ltv.quantize(Decimal("0.01")), "f"),
            },
        },
    )


@never_cache
def schema(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3.1 document of the command API."""
    if request.method not in ("GET", "HEAD"):
        return _error(405, f"Method {request.method} is not allowed: send a GET.", {"Allow": "GET, HEAD"})
    return JsonResponse(build_schema())
