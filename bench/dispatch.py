"""Benchmark: 10,000 due outreach messages through the dispatcher, providers replaced at the HTTP boundary.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/refiapp .venv/bin/python bench/dispatch.py [--messages 10000]

Runs in a throwaway test database (created and dropped like the test suite does). Email goes through anymail's
real Postmark backend and SMS through the real twilio Client; their HTTP APIs are answered in-process by
`responses`, so what is measured is refiapp: claim, re-checks (consent, stage, quiet hours, rates), rendering,
the pre-send write, the provider client, and the recording of each send with its timeline entry.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refiapp.settings")
os.environ.setdefault("DEBUG", "0")  # production template caching
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.update(
    {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
        "TWILIO_AUTH_TOKEN": "bench-token",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "POSTMARK_SERVER_TOKEN": "bench-token",
        "PUBLIC_BASE_URL": "https://refi.example.com",
        "LOG_LEVEL": "WARNING",
    }
)

import django  # noqa: E402

django.setup()

import responses  # noqa: E402
from book import enrolled_book, local_noon_zone  # noqa: E402  (bench/book.py)
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

ACCOUNT = os.environ["TWILIO_ACCOUNT_SID"]
TWILIO_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
POSTMARK_URL = "https://api.postmarkapp.com/email"


def build(messages: int) -> None:
    from django.contrib.auth import get_user_model

    from core.models import Branch, LoanOfficer, Organization
    from loans.models import Borrower
    from outreach.models import Sequence, SequenceStep
    from outreach.services.sequences import DAY_1_BODY, DAY_1_SUBJECT, DAY_4_SMS
    from rates.models import RateObservation, RateSeries, SeriesMapping

    today = timezone.now().date()
    org = Organization.objects.create(
        name="Bench Lending", slug="bench", postal_address="1 Bench Way, Springfield, IL 62701", auto_enroll=True
    )
    branch = Branch.objects.create(organization=org, name="Main")
    user = get_user_model().objects.create_user("bench-officer", password=None)
    officer = LoanOfficer.objects.create(
        user=user, organization=org, branch=branch, display_name="Pat Officer", nmls_id="123456",
        email="pat@bench.example.com", phone="+13125550100",
    )  # fmt: skip
    series = RateSeries.objects.create(
        code="OBMMIC30YF", title="Conforming 30", product_type="conforming", term_months=360
    )
    SeriesMapping.objects.create(organization=org, product_type="conforming", term_months=360, series=series)
    RateObservation.objects.create(series=series, date=today, rate=Decimal("6.125"))
    sequence = Sequence.objects.create(organization=org, name="Bench", is_default=True)
    SequenceStep.objects.create(
        sequence=sequence,
        position=1,
        day_offset=1,
        channel="email",
        subject_template=DAY_1_SUBJECT,
        body_template=DAY_1_BODY,
    )
    SequenceStep.objects.create(sequence=sequence, position=2, day_offset=1, channel="sms", body_template=DAY_4_SMS)

    count = messages // 2
    zone = local_noon_zone()
    now = timezone.now()
    borrowers = Borrower.objects.bulk_create(
        [
            Borrower(
                organization=org, first_name=f"B{i}", last_name="Bench", email=f"b{i}@mail.example.com",
                mobile_phone=f"+1312{i:07d}", timezone=zone, email_consent=True, email_consent_at=now,
                sms_consent=True, sms_consent_at=now, sms_consent_source="bench",
            )
            for i in range(count)
        ],
        batch_size=1000,
    )  # fmt: skip
    started = time.perf_counter()
    enrolled = enrolled_book(org=org, officer=officer, branch=branch, borrowers=borrowers, loan_prefix="BN", now=now)
    print(f"auto-enrolled {enrolled} opportunities ({enrolled * 2} messages) in {time.perf_counter() - started:.2f}s")


def dispatch_in_parallel(workers: int):  # type: ignore[no-untyped-def]
    """``workers`` dispatcher passes at once, each on its own database connection (claims keep them disjoint)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from outreach.services.dispatch import DispatchStats, dispatch_due_messages

    def one_pass() -> DispatchStats:
        try:
            return dispatch_due_messages(time_budget=None)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda _: one_pass(), range(workers)))
    total = DispatchStats()
    for result in results:
        total.claimed += result.claimed
        total.sent += result.sent
    return total


def run(messages: int, workers: int) -> float:
    from outreach.models import Message
    from outreach.services.dispatch import dispatch_due_messages
    from pipeline.models import Activity

    build(messages)
    ids = itertools.count(1)

    def twilio_create(request):  # type: ignore[no-untyped-def]
        params = {k: v[0] for k, v in parse_qs(request.body).items()}
        sid = f"SM{next(ids):032x}"
        body = {
            "account_sid": ACCOUNT, "api_version": "2010-04-01", "body": params["Body"],
            "date_created": "Mon, 23 Nov 2026 15:00:00 +0000", "date_sent": None,
            "date_updated": "Mon, 23 Nov 2026 15:00:00 +0000", "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": params.get("From"), "messaging_service_sid": None, "num_media": "0",
            "num_segments": "2", "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
            "subresource_uris": {}, "to": params["To"], "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json",
        }  # fmt: skip
        return 201, {"Content-Type": "application/json"}, json.dumps(body)

    def postmark_send(request):  # type: ignore[no-untyped-def]
        sent = json.loads(request.body)
        body = {
            "To": sent["To"], "SubmittedAt": "2026-11-23T09:00:00-06:00", "MessageID": f"pm-{next(ids):012d}",
            "ErrorCode": 0, "Message": "OK",
        }  # fmt: skip
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, TWILIO_URL, callback=twilio_create)
        mocked.add_callback(responses.POST, POSTMARK_URL, callback=postmark_send)
        started = time.perf_counter()
        stats = dispatch_due_messages(time_budget=None) if workers == 1 else dispatch_in_parallel(workers)
        elapsed = time.perf_counter() - started
        calls = len(mocked.calls)

    sent = Message.objects.filter(status="sent").count()
    activities = Activity.objects.filter(kind="sent").count()
    assert stats.sent == sent == messages == calls == activities, (stats.as_dict(), sent, calls, activities)
    rate = messages / elapsed
    print(f"database: {connection.vendor}; dispatchers: {workers}; messages: {messages}; provider HTTP calls: {calls}")
    print(f"dispatch: {elapsed:.2f}s → {rate:.0f} messages/s (each sent once, one 'sent' timeline entry each)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--workers", type=int, default=1, help="concurrent dispatcher passes (PostgreSQL; SQLite has one writer)"
    )
    args = parser.parse_args()
    setup_test_environment()
    from django.conf import settings

    settings.EMAIL_BACKEND = os.environ["EMAIL_BACKEND"]  # setup_test_environment swapped in locmem
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        None if connection.vendor == "sqlite" else f"bench_{Path(str(old_name)).name}"
    )
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args.messages, args.workers)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
