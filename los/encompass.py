"""The Encompass Developer Connect client (FORMATS.md §5): the only code that talks to Encompass.

- Token: ``POST {base}/oauth2/v1/token`` form ``grant_type=client_credentials&instance_id=…`` with HTTP Basic
  ``client_id:client_secret``; the answer's ``access_token`` is sent as ``Authorization: Bearer …``. A 401 from
  the API fetches a new token once and repeats the request.
- Pipeline: ``POST {base}/encompass/v1/loanPipeline?limit=1&cursorType=randomAccess&ignoreInvalidFields=true``
  with ``{"filter", "fields", "sortOrder"}`` opens a cursor (headers ``x-cursor``, ``x-total-count``); pages are
  ``POST …/loanPipeline?cursor=ID&start=S&limit=L`` with ``{"fields": [...]}``, each a list of
  ``{"loanGuid": "…", "fields": {"Fields.364": "…"}}``.
- Retries: 429 (honouring ``Retry-After``), 5xx and network errors, with exponential backoff, bounded by
  ``max_attempts``; ``sleep`` is injectable so tests never wait. 400/403/404 are not retried: the error names
  what Encompass said (its ``summary``/``details``/``errorCode`` or OAuth ``error``/``error_description``).
- A page that does not have the documented shape stops the sync with a clear error; nothing of it is used.

Neither the client secret nor a token ever appears in an error message.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oauth2/v1/token"
PIPELINE_PATH = "/encompass/v1/loanPipeline"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PAGE_SIZE = 1000  # Encompass' default page; its maximum is 25,000
MAX_RETRY_AFTER = 120.0
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LAST_MODIFIED = "Loan.LastModified"


class EncompassError(Exception):
    """A call that failed; the message says what Encompass (or the network) said, safe to show and store."""


@dataclass(frozen=True)
class PipelineLoan:
    guid: str
    fields: dict[str, str]


class EncompassClient:
    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        instance_id: str,
        session: requests.Session | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        max_attempts: int = 5,
        backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = PAGE_SIZE,
    ) -> None:
        missing = [
            name
            for name, value in (
                ("API base URL", base_url),
                ("client id", client_id),
                ("client secret", client_secret),
                ("instance id", instance_id),
            )
            if not value
        ]
        if missing:
            raise EncompassError(f"The connection lacks its {', '.join(missing)}.")
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc
        self.client_id = client_id
        self.client_secret = client_secret
        self.instance_id = instance_id
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "refiapp LOS sync")
        self.timeout = (connect_timeout, read_timeout)
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.sleep = sleep
        self.page_size = page_size
        self._token: str | None = None

    # --- what the app calls ----------------------------------------------------------------------------------

    def check(self) -> str:
        """ "Test connection": a token, then a one-loan pipeline call. Returns what worked; raises EncompassError."""
        self._token = None
        self.token()
        loans = self._post_json(
            PIPELINE_PATH,
            params={"limit": 1, "ignoreInvalidFields": "true"},
            body={"filter": _modified_since(EPOCH), "fields": ["Fields.364"]},
            what="the pipeline",
        )
        _check_page(loans, what="the test pipeline call")
        return (
            f"Connected to Encompass instance {self.instance_id} at {self.host}: token issued, pipeline answered "
            f"({len(loans)} loan{'s' if len(loans) != 1 else ''} returned for a 1-loan request)."
        )

    def pipeline(self, *, fields: list[str], modified_since: dt.datetime | None = None) -> Iterator[list[PipelineLoan]]:
        """Every loan modified at or after ``modified_since`` (all loans without it), page by page, oldest first."""
        body = {
            "filter": _modified_since(modified_since or EPOCH),
            "fields": fields,
            "sortOrder": [{"canonicalName": LAST_MODIFIED, "order": "asc"}],
        }
        response = self._send(
            "POST",
            PIPELINE_PATH,
            params={"limit": 1, "cursorType": "randomAccess", "ignoreInvalidFields": "true"},
            json=body,
            what="the pipeline cursor",
        )
        count_header = response.headers.get("x-total-count", "")
        if not count_header.isdigit():
            raise EncompassError(
                f"Encompass opened the pipeline cursor without a valid x-total-count header ({count_header!r})."
            )
        total = int(count_header)
        if total == 0:
            return
        cursor = response.headers.get("x-cursor")
        if not cursor:
            raise EncompassError(f"Encompass reported {total} loans but sent no x-cursor header.")
        start = 0
        while start < total:
            limit = min(self.page_size, total - start)
            page = self._post_json(
                PIPELINE_PATH,
                params={"cursor": cursor, "start": start, "limit": limit},
                body={"fields": fields},
                what=f"pipeline page start={start}",
            )
            loans = _check_page(page, what=f"the pipeline page at start={start} (of {total})")
            if not loans:
                raise EncompassError(
                    f"Encompass returned an empty pipeline page at start={start} of {total} loans "
                    "(the cursor may have expired); nothing of this sync was imported."
                )
            yield loans
            start += len(loans)

    # --- HTTP ------------------------------------------------------------------------------------------------

    def token(self) -> str:
        if self._token:
            return self._token
        response = self._send(
            "POST",
            TOKEN_PATH,
            data={"grant_type": "client_credentials", "instance_id": self.instance_id},
            auth=(self.client_id, self.client_secret),
            what="the token request",
            authenticated=False,
        )
        payload = self._decode(response, what="the token response")
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise EncompassError("Encompass's token response has no access_token.")
        self._token = token
        return token

    def _post_json(self, path: str, *, params: dict[str, Any], body: dict[str, Any], what: str) -> Any:
        return self._decode(self._send("POST", path, params=params, json=body, what=what), what=what)

    def _send(self, method: str, path: str, *, what: str, authenticated: bool = True, **kwargs: Any) -> Any:
        url = self.base_url + path
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            headers = {"Accept": "application/json"}
            if authenticated:
                headers["Authorization"] = f"Bearer {self.token()}"
            try:
                response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            except requests.Timeout:
                reason = f"Encompass did not answer {what} within {self.timeout[1]:g} s"
                retry_after = None
            except requests.ConnectionError as exc:
                reason = f"could not connect to Encompass at {self.host} ({self._redact(str(exc))[:200]})"
                retry_after = None
            else:
                status = response.status_code
                if status < 300:
                    return response
                if status == 401 and authenticated and not refreshed:
                    logger.info("Encompass answered 401 to %s: fetching a new token", what)
                    self._token, refreshed = None, True
                    attempt -= 1  # a refreshed token is not a retry
                    continue
                if status not in RETRY_STATUSES:
                    raise EncompassError(self._refusal(response, what=what, token_request=not authenticated))
                reason = f"Encompass answered HTTP {status} to {what}"
                retry_after = _retry_after(response)
            if attempt >= self.max_attempts:
                raise EncompassError(f"{reason}; gave up after {attempt} attempts.")
            delay = retry_after if retry_after is not None else self.backoff * (2 ** (attempt - 1))
            logger.warning("%s; retry %d in %.1f s", reason, attempt, delay)
            self.sleep(delay)

    def _decode(self, response: requests.Response, *, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise EncompassError(f"Encompass answered {what} with something that is not JSON.") from exc

    def _refusal(self, response: requests.Response, *, what: str, token_request: bool) -> str:
        """What Encompass said, e.g. ``HTTP 403 to the pipeline cursor: Forbidden — user lacks … (EBS-915)``."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        said = ""
        if isinstance(body, dict):
            if body.get("error") or body.get("error_description"):  # OAuth (RFC 6749 §5.2)
                said = ": ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
            else:
                parts = [str(body[k]) for k in ("summary", "details") if body.get(k)]
                said = " — ".join(parts)
                if body.get("errorCode"):
                    said += f" (errorCode {body['errorCode']})"
        if not said:
            said = " ".join(response.text.split())[:300] or response.reason or "no explanation"
        correlation = response.headers.get("X-Correlation-ID")
        if correlation:
            said += f" [correlation id {correlation}]"
        prefix = (
            "Encompass refused the credentials"
            if token_request
            else f"Encompass refused {what}"
            + (" (the API user lacks a right or the instance)" if status == 403 else "")
        )
        return self._redact(f"{prefix} (HTTP {status}): {said}")

    def _redact(self, text: str) -> str:
        for secret in (self.client_secret, self._token):
            if secret:
                text = text.replace(secret, "•••")
        return text


def _modified_since(moment: dt.datetime) -> dict[str, Any]:
    return {
        "canonicalName": LAST_MODIFIED,
        "value": moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "matchType": "greaterThanOrEquals",
        "precision": "exact",
    }


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    return None


def _check_page(page: Any, *, what: str) -> list[PipelineLoan]:
    """The documented shape, or an error that says where it broke (nothing of a bad page is used)."""
    if not isinstance(page, list):
        raise EncompassError(f"Encompass returned a malformed page for {what}: expected a list of loans.")
    loans = []
    for index, item in enumerate(page):
        where = f"Encompass returned a malformed page for {what}: item {index + 1}"
        if not isinstance(item, dict):
            raise EncompassError(f"{where} is not an object.")
        guid, fields = item.get("loanGuid"), item.get("fields", {})
        if not isinstance(guid, str) or not guid.strip():
            raise EncompassError(f"{where} has no loanGuid.")
        if not isinstance(fields, dict):
            raise EncompassError(f"{where} ({guid}) has 'fields' that is not an object.")
        values: dict[str, str] = {}
        for name, value in fields.items():
            if value is None:
                values[name] = ""
            elif isinstance(value, str | int | float) and not isinstance(value, bool):
                values[name] = str(value)
            else:
                raise EncompassError(f"{where} ({guid}) has a non-text value for {name}.")
        loans.append(PipelineLoan(guid=guid.strip(), fields=values))
    return loans
