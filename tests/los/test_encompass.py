"""The real Encompass client against a local fake Encompass (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from los.encompass import EncompassClient, EncompassError
from tests.los.fake_encompass import FakeEncompass, pipeline_loan

SECRET = "s3cr3t-client-secret"
FIELDS = ["Fields.364", "Fields.3", "Loan.LastModified"]


def loans(count: int) -> list[dict]:
    return [
        pipeline_loan(
            f"guid-{n}",
            Fields_364=f"10000{n}",
            Fields_3="6.5",
            **{"Loan.LastModified": f"2025-09-{10 + n:02d}T12:00:00Z"},
        )
        for n in range(count)
    ]


@pytest.fixture
def fake():
    with FakeEncompass(client_id="refi-client", client_secret=SECRET, instance_id="BE11140034", loans=loans(5)) as f:
        yield f


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client(fake: FakeEncompass, sleeps: list[float], **options) -> EncompassClient:
    return EncompassClient(
        base_url=fake.base_url,
        client_id="refi-client",
        client_secret=options.pop("secret", SECRET),
        instance_id="BE11140034",
        sleep=sleeps.append,
        **options,
    )


def test_token_then_cursor_then_pages_as_documented(fake, sleeps):
    pages = list(client(fake, sleeps, page_size=2).pipeline(fields=FIELDS))
    assert [[loan.guid for loan in page] for page in pages] == [["guid-0", "guid-1"], ["guid-2", "guid-3"], ["guid-4"]]
    assert pages[0][0].fields == {
        "Fields.364": "100000",
        "Fields.3": "6.5",
        "Loan.LastModified": "2025-09-10T12:00:00Z",
    }

    [token] = fake.seen("token")
    assert token.body == {"grant_type": "client_credentials", "instance_id": "BE11140034"}
    assert token.headers["Authorization"] == "Basic " + base64.b64encode(f"refi-client:{SECRET}".encode()).decode()
    [cursor] = fake.seen("cursor")
    assert cursor.query == {"limit": "1", "cursorType": "randomAccess", "ignoreInvalidFields": "true"}
    assert cursor.body == {
        "filter": {
            "canonicalName": "Loan.LastModified",
            "value": "1970-01-01T00:00:00Z",
            "matchType": "greaterThanOrEquals",
            "precision": "exact",
        },
        "fields": FIELDS,
        "sortOrder": [{"canonicalName": "Loan.LastModified", "order": "asc"}],
    }
    assert cursor.headers["Authorization"] == "Bearer fake-access-token-1"
    cursor_id = fake.seen("page")[0].query["cursor"]
    assert [(p.query["start"], p.query["limit"], p.query["cursor"]) for p in fake.seen("page")] == [
        ("0", "2", cursor_id),
        ("2", "2", cursor_id),
        ("4", "1", cursor_id),
    ]
    assert all(p.body == {"fields": FIELDS} for p in fake.seen("page"))
    assert sleeps == []


def test_incremental_pull_asks_only_for_loans_modified_since_the_watermark(fake, sleeps):
    since = dt.datetime(2025, 9, 13, 12, 0, tzinfo=dt.UTC)
    pages = list(client(fake, sleeps).pipeline(fields=FIELDS, modified_since=since))
    assert [loan.guid for page in pages for loan in page] == ["guid-3", "guid-4"]
    assert fake.seen("cursor")[0].body["filter"]["value"] == "2025-09-13T12:00:00Z"


def test_no_loans_means_no_cursor_and_no_pages(fake, sleeps):
    since = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert list(client(fake, sleeps).pipeline(fields=FIELDS, modified_since=since)) == []
    assert fake.seen("page") == []


def test_an_expired_token_is_refreshed_once_and_the_page_repeated(fake, sleeps):
    pages = client(fake, sleeps, page_size=2).pipeline(fields=FIELDS)
    first = next(pages)
    fake.expire_tokens()  # Encompass forgets the token between two pages
    rest = list(pages)
    assert len(first) + sum(len(page) for page in rest) == 5
    assert len(fake.seen("token")) == 2
    assert [p.headers["Authorization"] for p in fake.seen("page")] == [
        "Bearer fake-access-token-1",
        "Bearer fake-access-token-1",  # the 401
        "Bearer fake-access-token-2",
        "Bearer fake-access-token-2",
    ]
    assert sleeps == []


def test_a_token_refused_twice_is_an_error_not_a_loop(fake, sleeps):
    fake.fail_next("cursor", 401, {"summary": "Unauthorized", "details": "Token revoked"})
    fake.fail_next("cursor", 401, {"summary": "Unauthorized", "details": "Token revoked"})
    with pytest.raises(EncompassError, match=r"HTTP 401\): Unauthorized — Token revoked"):
        list(client(fake, sleeps).pipeline(fields=FIELDS))
    assert len(fake.seen("token")) == 2


def test_429_waits_as_long_as_retry_after_says(fake, sleeps):
    fake.fail_next("page", 429, {"summary": "Too Many Requests"}, {"Retry-After": "7"})
    pages = list(client(fake, sleeps, page_size=5).pipeline(fields=FIELDS))
    assert sum(len(page) for page in pages) == 5
    assert sleeps == [7.0]
    assert len(fake.seen("page")) == 2


def test_a_500_is_retried_with_backoff_then_succeeds(fake, sleeps):
    fake.fail_next("cursor", 500, {"summary": "Internal Server Error"})
    fake.fail_next("cursor", 503, b"<html>Service Unavailable</html>")
    pages = list(client(fake, sleeps).pipeline(fields=FIELDS))
    assert sum(len(page) for page in pages) == 5
    assert sleeps == [2.0, 4.0]


def test_retries_are_bounded(fake, sleeps):
    for _ in range(3):
        fake.fail_next("cursor", 502, {"summary": "Bad Gateway"})
    with pytest.raises(EncompassError, match="HTTP 502 to the pipeline cursor; gave up after 3 attempts"):
        list(client(fake, sleeps, max_attempts=3).pipeline(fields=FIELDS))
    assert sleeps == [2.0, 4.0]


def test_a_malformed_page_is_a_clear_error(fake, sleeps):
    fake.malformed_page_at = 2
    pages = client(fake, sleeps, page_size=2).pipeline(fields=FIELDS)
    assert len(next(pages)) == 2
    with pytest.raises(EncompassError, match=r"malformed page for the pipeline page at start=2 \(of 5\)"):
        next(pages)


def test_an_item_without_a_guid_is_malformed(fake, sleeps):
    fake.loans[1] = {"fields": {"Fields.364": "x", "Loan.LastModified": "2025-09-11T12:00:00Z"}}
    with pytest.raises(EncompassError, match="item 2 has no loanGuid"):
        list(client(fake, sleeps, page_size=5).pipeline(fields=FIELDS))


def test_400_names_what_encompass_said_and_is_not_retried(fake, sleeps):
    fake.fail_next(
        "cursor",
        400,
        {"summary": "Bad Request", "details": "Invalid canonical field: Fields.99999", "errorCode": "EBS-920"},
        {"X-Correlation-ID": "c0ffee"},
    )
    with pytest.raises(EncompassError) as caught:
        list(client(fake, sleeps).pipeline(fields=FIELDS))
    assert str(caught.value) == (
        "Encompass refused the pipeline cursor (HTTP 400): Bad Request — Invalid canonical field: Fields.99999 "
        "(errorCode EBS-920) [correlation id c0ffee]"
    )
    assert sleeps == [] and len(fake.seen("cursor")) == 1


def test_403_says_the_api_user_lacks_a_right(fake, sleeps):
    fake.fail_next("cursor", 403, {"summary": "Forbidden", "details": "User does not have access to the pipeline."})
    with pytest.raises(EncompassError, match=r"lacks a right or the instance\) \(HTTP 403\): Forbidden — User does"):
        list(client(fake, sleeps).pipeline(fields=FIELDS))


def test_wrong_credentials_say_so_and_never_show_the_secret(fake, sleeps):
    with pytest.raises(EncompassError) as caught:
        list(client(fake, sleeps, secret="wrong-secret").pipeline(fields=FIELDS))
    message = str(caught.value)
    assert message == ("Encompass refused the credentials (HTTP 401): invalid_client: Client authentication failed.")
    assert "wrong-secret" not in message


def test_an_unreachable_host_is_retried_then_reported(sleeps):
    unreachable = EncompassClient(
        base_url="http://127.0.0.1:9",
        client_id="x",
        client_secret=SECRET,
        instance_id="BE1",
        sleep=sleeps.append,
        max_attempts=2,
    )
    with pytest.raises(EncompassError, match="could not connect to Encompass at 127.0.0.1:9.*gave up after 2 attempts"):
        unreachable.check()
    assert sleeps == [2.0]


def test_check_asks_for_one_loan(fake, sleeps):
    message = client(fake, sleeps).check()
    assert message.startswith("Connected to Encompass instance BE11140034")
    [call] = fake.seen("pipeline")
    assert call.query == {"limit": "1", "ignoreInvalidFields": "true"}
    assert call.body["fields"] == ["Fields.364"]


def test_missing_settings_are_named():
    with pytest.raises(EncompassError, match="lacks its client secret, instance id"):
        EncompassClient(base_url="https://api.elliemae.com", client_id="x", client_secret="", instance_id="")
