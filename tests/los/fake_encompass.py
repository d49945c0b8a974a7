"""A local Encompass Developer Connect: a real HTTP server on 127.0.0.1 speaking the documented shapes.

FORMATS.md §5 and EncompassRest (the MIT client the shapes were read from): the OAuth2 token endpoint
(``client_credentials`` with the instance id, HTTP Basic client credentials), and ``POST
/encompass/v1/loanPipeline`` — a plain call, a ``cursorType=randomAccess`` call that answers ``x-cursor`` and
``x-total-count``, and cursor pages (``cursor``, ``start``, ``limit``, body ``{"fields": [...]}``). Filters:
``{canonicalName, value, matchType, precision}`` terms and ``{operator, terms}``; a request must have a filter or
loanGuids, not both. Errors answer with ``{"summary", "details", "errorCode"}`` (OAuth: ``{"error",
"error_description"}``).

Tests script trouble with ``fail_next(kind, status, ...)`` (``kind``: "token", "cursor", "page" or "pipeline"),
``expire_tokens()`` and ``malformed_page_at``; ``requests`` records what the client sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Scripted:
    kind: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def pipeline_loan(guid: str, **fields: Any) -> dict[str, Any]:
    return {"loanGuid": guid, "fields": {name.replace("_", "."): value for name, value in fields.items()}}


class FakeEncompass:
    def __init__(self, *, client_id: str, client_secret: str, instance_id: str, loans: list[dict[str, Any]]):
        self.client_id = client_id
        self.client_secret = client_secret
        self.instance_id = instance_id
        self.loans = loans
        self.tokens: set[str] = set()
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        self.scripted: list[Scripted] = []
        self.requests: list[Seen] = []
        self.malformed_page_at: int | None = None
        self._issued = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeEncompass:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # --- scripting -------------------------------------------------------------------------------------------

    def fail_next(self, kind: str, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.scripted.append(Scripted(kind, status, body if body is not None else {}, headers or {}))

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def seen(self, kind: str) -> list[Seen]:
        return [r for r in self.requests if _kind(r.path, r.query) == kind]

    # --- the server ------------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet test output
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    body: Any = json.loads(raw or b"null")
                else:
                    body = {key: values[-1] for key, values in parse_qs(raw.decode()).items()}
                fake.requests.append(Seen(parts.path, query, dict(self.headers.items()), body))
                status, payload, headers = fake.answer(parts.path, query, self.headers, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def answer(self, path: str, query: dict[str, str], headers: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
        kind = _kind(path, query)
        for index, scripted in enumerate(self.scripted):
            if scripted.kind in (kind, "pipeline" if kind in ("cursor", "page", "pipeline") else ""):
                del self.scripted[index]
                return scripted.status, scripted.body, scripted.headers
        if kind == "token":
            return self._token(headers, body)
        if kind == "unknown":
            return 404, {"summary": "Not Found", "details": f"No resource at {path}"}, {}
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return 401, {"summary": "Unauthorized", "details": "The access token is invalid or has expired."}, {}
        if kind == "page":
            return self._page(query, body)
        return self._query(query, body, cursor=kind == "cursor")

    def _token(self, headers: Any, form: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        scheme, _, encoded = headers.get("Authorization", "").partition(" ")
        user, _, password = (
            base64.b64decode(encoded or "").decode().partition(":") if scheme == "Basic" else ("", "", "")
        )
        if (user, password) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}, {}
        if form.get("grant_type") != "client_credentials" or form.get("instance_id") != self.instance_id:
            return 400, {"error": "invalid_grant", "error_description": "Unknown instance id."}, {}
        self._issued += 1
        token = f"fake-access-token-{self._issued}"
        self.tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 1800}, {}

    def _query(self, query: dict[str, str], body: Any, *, cursor: bool) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or ("filter" in body) == ("loanGuids" in body):
            details = "Either filter or loanGuids must be specified in the request, but not both."
            return 400, {"summary": "Bad Request", "details": details, "errorCode": "EBS-920"}, {}
        if not isinstance(body.get("fields"), list):
            return 400, {"summary": "Bad Request", "details": "fields must be a list", "errorCode": "EBS-921"}, {}
        if "filter" in body:
            matching = [loan for loan in self.loans if _matches(loan, body["filter"])]
        else:
            matching = [loan for loan in self.loans if loan.get("loanGuid") in body["loanGuids"]]
        for term in reversed(body.get("sortOrder") or []):
            matching.sort(
                key=lambda loan, name=term["canonicalName"]: _sort_value(loan, name),
                reverse=term.get("order") == "desc",
            )
        limit = int(query.get("limit", 1000))
        page = [_project(loan, body["fields"]) for loan in matching[:limit]]
        if not cursor:
            return 200, page, {}
        headers = {"x-total-count": str(len(matching))}
        if matching:
            cursor_id = uuid.uuid4().hex
            self.cursors[cursor_id] = matching
            headers["x-cursor"] = cursor_id
        return 200, page, headers

    def _page(self, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        loans = self.cursors.get(query["cursor"])
        if loans is None:
            return 404, {"summary": "Not Found", "details": "Cursor not found or expired.", "errorCode": "EBS-404"}, {}
        start, limit = int(query["start"]), int(query["limit"])
        if self.malformed_page_at == start:
            return 200, {"loans": "not a list"}, {}
        return 200, [_project(loan, body["fields"]) for loan in loans[start : start + limit]], {}


def _kind(path: str, query: dict[str, str]) -> str:
    if path == "/oauth2/v1/token":
        return "token"
    if path == "/encompass/v1/loanPipeline":
        if "cursor" in query:
            return "page"
        return "cursor" if query.get("cursorType") == "randomAccess" else "pipeline"
    return "unknown"


def _project(loan: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The loan with only the asked-for fields (a test may plant a loan without its guid)."""
    projected = {"loanGuid": loan["loanGuid"]} if "loanGuid" in loan else {}
    return {**projected, "fields": {name: loan["fields"].get(name, "") for name in fields}}


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _sort_value(loan: dict[str, Any], name: str) -> Any:
    return loan["fields"].get(name, "")


def _matches(loan: dict[str, Any], term: dict[str, Any]) -> bool:
    if "operator" in term:
        results = [_matches(loan, inner) for inner in term["terms"]]
        return all(results) if term["operator"] == "and" else any(results)
    value = loan["fields"].get(term["canonicalName"], "")
    match = term["matchType"]
    if match == "exact":
        return value == term["value"]
    if match == "isNotEmpty":
        return bool(value)
    if match in ("greaterThanOrEquals", "greaterThan"):
        if not value:
            return False
        left, right = _when(value), _when(term["value"])
        return left >= right if match == "greaterThanOrEquals" else left > right
    raise ValueError(f"the fake does not know matchType {match}")
