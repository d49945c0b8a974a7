"""The OpenAPI 3.1 document of the command API, served at ``/api/schema/``.

Written by hand (one endpoint, two commands) so that it states exactly what the view does; the test suite
runs schemathesis against the app with it.
"""

from __future__ import annotations

from typing import Any

from refinance.api import parsing

MONEY = {
    "type": "string",
    "pattern": r"^[0-9]+\.[0-9]{2}$",
    "description": "US dollars as a decimal string with exactly two decimals.",
    "examples": ["389123.45"],
}
NULLABLE_MONEY = {**MONEY, "type": ["string", "null"], "description": "US dollars, or null when it cannot be known."}
SLUG = r"^[-a-zA-Z0-9_]+$"
DATE = {"type": "string", "format": "date", "examples": ["2026-12-22"]}


def _decimal_input(description: str, *, places: int, minimum: str, maximum: str, exclusive: bool) -> dict[str, Any]:
    number: dict[str, Any] = {"type": "number", "maximum": float(maximum), "multipleOf": 10.0**-places}
    number["exclusiveMinimum" if exclusive else "minimum"] = float(minimum)
    return {
        "description": f"{description} A JSON number or a numeric string, at most {places} decimal places.",
        "oneOf": [number, {"type": "string", "pattern": rf"^[0-9]+(\.[0-9]{{1,{places}}})?$"}],
    }


def _text(max_length: int, description: str, example: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": r"\S",
        "description": description,
        "examples": [example],
    }


LOAN_ID = _text(parsing.ID_MAX_LENGTH, "The lender's loan number of the existing loan.", "LN-12345")
PRODUCT_ID = _text(parsing.ID_MAX_LENGTH, "The code of one of the lender's loan products.", "CONF30")
CASH_OUT = _decimal_input(
    "Cash paid to the borrower; 0 or absent for a rate-term refinance.",
    places=2,
    minimum="0",
    maximum=str(parsing.MAX_AMOUNT),
    exclusive=False,
)
EFFECTIVE_DATE = {
    "type": "string",
    "description": (
        "ISO 8601 date (2026-12-22) or date-time (2026-12-22T15:00:00Z); a date-time with an offset is read in "
        "the lender's timezone. Between 2000-01-01 and 2100-12-31."
    ),
    "examples": ["2026-12-22", "2026-12-22T15:00:00.000Z"],
}

INITIATE_DATA = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "existingLoanId",
        "newLoanProductId",
        "newLoanAmount",
        "newInterestRate",
        "newTermMonths",
        "refinanceReason",
        "effectiveDate",
    ],
    "properties": {
        "existingLoanId": LOAN_ID,
        "newLoanProductId": PRODUCT_ID,
        "newLoanAmount": _decimal_input(
            "Principal of the new loan. Closing costs are financed: it must be at least payoff + closing costs + "
            "cash-out.",
            places=2,
            minimum="0",
            maximum=str(parsing.MAX_AMOUNT),
            exclusive=True,
        ),
        "newInterestRate": _decimal_input(
            "Note rate of the new loan in percent (4.5 means 4.5 %).",
            places=3,
            minimum="0",
            maximum=str(parsing.MAX_RATE),
            exclusive=True,
        ),
        "newTermMonths": {
            "type": "integer",
            "minimum": parsing.MIN_TERM,
            "maximum": parsing.MAX_TERM,
            "description": "Term of the new loan in months; must equal the product's term.",
            "examples": [360],
        },
        "refinanceReason": _text(parsing.REASON_MAX_LENGTH, "Why the borrower refinances.", "Lower interest rate"),
        "effectiveDate": EFFECTIVE_DATE,
        "cashOutAmount": CASH_OUT,
        "notes": {"type": ["string", "null"], "maxLength": parsing.NOTES_MAX_LENGTH},
        "rateLockExpirationDate": {
            **EFFECTIVE_DATE,
            "type": ["string", "null"],
            "description": "Optional: when the new loan's rate lock expires (ISO 8601 date). The borrower and the "
            "loan officer are alerted before it (the organization's lock-alert days). Between 2000-01-01 and "
            "2100-12-31; a date before the organization's today or beyond its rate-lock horizon is a 422 rule "
            "failure.",
        },
    },
    "examples": [
        {
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
    ],
}

CALCULATE_DATA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["existingLoanId", "newLoanProductId"],
    "properties": {
        "existingLoanId": LOAN_ID,
        "newLoanProductId": PRODUCT_ID,
        "cashOutAmount": CASH_OUT,
        "effectiveDate": {**EFFECTIVE_DATE, "description": f"{EFFECTIVE_DATE['description']} Default: in 30 days."},
    },
    "examples": [{"existingLoanId": "LN-12345", "newLoanProductId": "CONF30", "cashOutAmount": "25000.00"}],
}


def _envelope(cmd: str, data_ref: str, description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["cmd", "data"],
        "properties": {
            "cmd": {"const": cmd},
            "data": {
                "oneOf": [
                    {"$ref": data_ref},
                    {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "description": "The same object, JSON-encoded in a string.",
                    },
                ]
            },
        },
    }


def _error_body(message_description: str, message_const: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "string", "description": message_description}
    if message_const:
        message = {"const": message_const}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["success", "message"],
        "properties": {"success": {"const": False}, "message": message},
    }


def _response(description: str, ref: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}
    if headers:
        response["headers"] = headers
    return response


def build_schema() -> dict[str, Any]:
    schemas = "#/components/schemas/"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "refiapp command API",
            "version": "1.0.0",
            "description": (
                'One endpoint, `POST /api/bpm/cmd`, takes a command envelope `{"cmd": ..., "data": {...}}`.\n\n'
                "* `InitiateLoanRefinanceCommand` checks every business rule and creates the refinance "
                "(a RefinanceTransaction and a pending new loan), or answers 422 with every rule that fails.\n"
                "* `CalculateRefinanceAmountQuery` returns the payoff, closing costs, minimum and maximum new "
                "amount and maximum cash-out (read only).\n\n"
                "Money in responses is a string with two decimals; dates are ISO 8601 dates. A loan number of "
                "another organization (or one the token's user may not see) is 404, exactly like one that does "
                "not exist; a product code of another organization is 'does not exist' (422).\n\n"
                "`Idempotency-Key` (InitiateLoanRefinanceCommand only; ignored by the query): the same key with "
                "the same request returns the first response again (header `Idempotent-Replayed: true`) without "
                "creating anything; with a different request → 422; while the first request still runs → 409. "
                "Keys are per organization. Requests rejected with 400 do not use up their key.\n\n"
                "Rate limit: `API_RATE_LIMIT_PER_MINUTE` requests per minute per token (fixed window), then "
                "429 with `Retry-After`."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/api/bpm/cmd": {
                "post": {
                    "operationId": "runCommand",
                    "summary": "Run a command: initiate a loan refinance, or calculate refinance amounts",
                    "parameters": [
                        {
                            "name": "X-Tenant-ID",
                            "in": "header",
                            "required": True,
                            "description": "The organization's slug; must be the API token's organization.",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": SLUG},
                        },
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Makes InitiateLoanRefinanceCommand safe to retry (1-255 visible ASCII).",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]+$"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": schemas + "CommandEnvelope"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "The command ran.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "oneOf": [
                                            {"$ref": schemas + "InitiateSuccess"},
                                            {"$ref": schemas + "CalculateSuccess"},
                                        ]
                                    }
                                }
                            },
                        },
                        "400": _response(
                            "Missing or malformed fields, headers or body (unknown cmd, body that is not JSON).",
                            schemas + "InvalidRequest",
                        ),
                        "401": _response(
                            "No bearer token, or an invalid / revoked one.",
                            schemas + "Error",
                            {"WWW-Authenticate": {"schema": {"type": "string"}}},
                        ),
                        "403": _response("X-Tenant-ID is not the token's organization.", schemas + "Error"),
                        "404": _response(
                            "The existing loan does not exist in this organization (or the token may not see it).",
                            schemas + "LoanNotFound",
                        ),
                        "409": _response(
                            "A request with the same Idempotency-Key is still being processed.", schemas + "Error"
                        ),
                        "413": _response("The body is larger than API_MAX_BODY_BYTES (64 KB).", schemas + "Error"),
                        "422": _response(
                            "Business rules failed (every failure listed), an unknown product, or an "
                            "Idempotency-Key reused with a different request.",
                            schemas + "RulesFailed",
                        ),
                        "429": _response(
                            "Too many requests for this token in the current minute.",
                            schemas + "Error",
                            {
                                "Retry-After": {
                                    "required": True,
                                    "description": "Seconds until the next window.",
                                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                                }
                            },
                        ),
                    },
                }
            }
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token created in admin or with `manage.py create_api_token USERNAME`.",
                }
            },
            "schemas": {
                "CommandEnvelope": {
                    "oneOf": [{"$ref": schemas + "InitiateCommand"}, {"$ref": schemas + "CalculateCommand"}],
                },
                "InitiateCommand": _envelope(
                    parsing.INITIATE, schemas + "InitiateData", "Initiate a refinance of an existing loan."
                ),
                "CalculateCommand": _envelope(
                    parsing.CALCULATE, schemas + "CalculateData", "Calculate payoff and refinance amounts (read only)."
                ),
                "InitiateData": INITIATE_DATA,
                "CalculateData": CALCULATE_DATA,
                "InitiateSuccess": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["success", "message", "data"],
                    "properties": {
                        "success": {"const": True},
                        "message": {"const": "Loan refinance initiated successfully"},
                        "data": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": [
                                "transactionId",
                                "existingLoanId",
                                "newLoanId",
                                "existingBalance",
                                "newLoanAmount",
                                "cashOutAmount",
                                "closingCosts",
                                "effectiveDate",
                                "status",
                            ],
                            "properties": {
                                "transactionId": {"type": "string", "examples": ["RT-3F9A0C21B7"]},
                                "existingLoanId": {"type": "string"},
                                "newLoanId": {
                                    "type": "string",
                                    "description": "The new loan's number: the old one with -R1 (-R2, …).",
                                    "examples": ["LN-12345-R1"],
                                },
                                "existingBalance": {**MONEY, "description": "Payoff of the existing loan."},
                                "newLoanAmount": MONEY,
                                "cashOutAmount": MONEY,
                                "closingCosts": {**MONEY, "description": "By the product's rule; financed."},
                                "effectiveDate": DATE,
                                "status": {"type": "string", "enum": ["initiated", "approved", "funded", "cancelled"]},
                            },
                        },
                    },
                },
                "CalculateSuccess": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["success", "message", "data"],
                    "properties": {
                        "success": {"const": True},
                        "message": {"const": "Refinance amounts calculated"},
                        "data": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": [
                                "existingLoanId",
                                "newLoanProductId",
                                "effectiveDate",
                                "principalBalance",
                                "accruedInterest",
                                "interestFrom",
                                "payoffFees",
                                "payoffAmount",
                                "cashOutAmount",
                                "closingCosts",
                                "minimumLoanAmount",
                                "maximumLoanAmount",
                                "maximumCashOut",
                                "propertyValue",
                                "maxLtv",
                            ],
                            "properties": {
                                "existingLoanId": {"type": "string"},
                                "newLoanProductId": {"type": "string"},
                                "effectiveDate": DATE,
                                "principalBalance": {**MONEY, "description": "Principal at the effective date."},
                                "accruedInterest": {
                                    **MONEY,
                                    "description": "From the last due date to the effective date, actual/365.",
                                },
                                "interestFrom": DATE,
                                "payoffFees": MONEY,
                                "payoffAmount": {**MONEY, "description": "principal + accrued interest + fees."},
                                "cashOutAmount": MONEY,
                                "closingCosts": {**MONEY, "description": "On the minimum loan amount."},
                                "minimumLoanAmount": {
                                    **MONEY,
                                    "description": "payoff + (financed) closing costs + cash-out.",
                                },
                                "maximumLoanAmount": {
                                    **NULLABLE_MONEY,
                                    "description": "By the product's LTV limit (cash-out limit when cash-out > 0) "
                                    "and its maximum amount; null without a property value.",
                                },
                                "maximumCashOut": {
                                    **NULLABLE_MONEY,
                                    "description": "By the product's cash-out LTV; null without a property value.",
                                },
                                "propertyValue": NULLABLE_MONEY,
                                "maxLtv": {
                                    "type": "string",
                                    "pattern": r"^[0-9]+\.[0-9]{2}$",
                                    "description": "The LTV limit that applies, percent.",
                                },
                            },
                        },
                    },
                },
                "InvalidRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["success", "message", "errors"],
                    "properties": {
                        "success": {"const": False},
                        "message": {"const": "Invalid request parameters"},
                        "errors": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["field", "message"],
                                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                            },
                        },
                    },
                },
                "LoanNotFound": _error_body("", "Existing loan not found"),
                "RulesFailed": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["success", "message", "errors"],
                    "properties": {
                        "success": {"const": False},
                        "message": {
                            "type": "string",
                            "enum": [
                                "Loan refinance validation failed",
                                "Idempotency-Key reused with a different request",
                            ],
                        },
                        "errors": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    },
                },
                "Error": _error_body("What went wrong, in plain words."),
            },
        },
    }
