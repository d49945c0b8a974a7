"""Fault test: a real dispatcher process killed with SIGKILL in the middle of a batch, then restarted.

The ESP is a fake Postmark API on a loopback port (the HTTP boundary): it answers as Postmark does, and on one
chosen request it takes the message and then never answers, so the dispatcher is mid-send when the test kills
it. No sleeps: the test waits on that request's arrival (a threading.Event, bounded) and on the processes.
After the restart every due email has reached the ESP exactly once: the ones the killed worker had claimed but
not yet handed over are sent by the restarted one, the one it was handing over is never sent again (it stays
"unconfirmed" until the ESP's delivery event proves it went out).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from outreach.models import Message
from outreach.services.enrollments import enrollment_create
from outreach.services.recording import STUCK_AFTER, UNCONFIRMED
from pipeline.models import Activity
from tests.factories import OpportunityFactory
from tests.outreach.conftest import MONDAY_9AM_CHICAGO, fresh_rates, make_sequence
from tests.outreach.test_webhooks import AUTH

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)
WAIT = 90  # seconds: the bound on every wait (a process start is ~3 s on an idle machine)


class FakePostmark(ThreadingHTTPServer):
    """Postmark's send API (POST /email) on 127.0.0.1. ``hang_on``: the number of the request that is accepted
    and then left without an answer until ``release`` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), PostmarkHandler)
        self.received: list[int] = []  # outreach message ids, in arrival order
        self.message_ids: dict[int, str] = {}
        self.hang_on: int | None = None
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class PostmarkHandler(BaseHTTPRequestHandler):
    server: FakePostmark

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/email" and self.headers["X-Postmark-Server-Token"] == "fault-test-server-token"
        outreach_id = int(body["Metadata"]["outreach_message"])
        with self.server.lock:
            self.server.received.append(outreach_id)
            number = len(self.server.received)
            provider_id = self.server.message_ids[outreach_id] = str(uuid.uuid4())
        if number == self.server.hang_on:
            self.server.hanging.set()
            self.server.release.wait(WAIT)  # the worker is killed while it waits for this answer
            return
        answer = {
            "To": body["To"],
            "SubmittedAt": "2026-11-23T09:00:00.0000000-06:00",
            "MessageID": provider_id,
            "ErrorCode": 0,
            "Message": "OK",
        }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def esp():  # type: ignore[no-untyped-def]
    server = FakePostmark()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def dispatcher(*, esp: FakePostmark, now: dt.datetime, log: Path) -> subprocess.Popen:
    """``manage.py dispatch_outreach`` as its own process, on the test database, at the test's clock."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.subprocess_settings",
        "REFIAPP_TEST_DATABASE": str(connection.settings_dict["NAME"]),
        "REFIAPP_FAKE_ESP_URL": esp.url,
        "REFIAPP_TEST_NOW": now.isoformat(),
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    handle = log.open("w")
    return subprocess.Popen(
        [sys.executable, "manage.py", "dispatch_outreach"], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    )


def test_a_dispatcher_killed_mid_send_never_strands_or_duplicates_an_email(frozen, officer, esp, tmp_path, client):
    opportunities = [OpportunityFactory(loan__loan_officer=officer) for _ in range(6)]
    fresh_rates(officer.organization)
    sequence = make_sequence(officer.organization, [(1, "email")])
    due = [enrollment_create(opportunity=opp, sequence=sequence).messages.get().pk for opp in opportunities]

    # First worker: the ESP takes the third email and never answers; the worker is killed while it waits.
    esp.hang_on = 3
    first = dispatcher(esp=esp, now=MONDAY_9AM_CHICAGO, log=tmp_path / "first.log")
    try:
        assert esp.hanging.wait(WAIT), (tmp_path / "first.log").read_text()
    finally:
        first.send_signal(signal.SIGKILL)
        assert first.wait(WAIT) == -signal.SIGKILL
    esp.release.set()
    in_flight = esp.received[2]
    left = dict(Message.objects.values_list("pk", "status"))
    assert [left[pk] for pk in esp.received[:2]] == ["sent", "sent"]
    assert left[in_flight] == "sending"
    assert Message.objects.filter(status="sending", handed_at__isnull=False).get().pk == in_flight
    assert Message.objects.filter(status="sending", handed_at__isnull=True).count() == 3  # claimed, never handed

    # Restart once the claims count as stuck: reconcile, then send what is due.
    later = MONDAY_9AM_CHICAGO + STUCK_AFTER + dt.timedelta(minutes=2)
    second = dispatcher(esp=esp, now=later, log=tmp_path / "second.log")
    assert second.wait(WAIT) == 0, (tmp_path / "second.log").read_text()
    output = (tmp_path / "second.log").read_text()
    assert "requeued=3" in output and "sent=3" in output and "unconfirmed=1" in output

    # Every due email reached the ESP exactly once.
    assert Counter(esp.received) == Counter({pk: 1 for pk in due})
    rows = {m.pk: m for m in Message.objects.all()}
    for pk in due:
        if pk == in_flight:
            assert (rows[pk].status, rows[pk].error_code) == ("failed", UNCONFIRMED)
        else:
            assert (rows[pk].status, rows[pk].provider_message_id) == ("sent", esp.message_ids[pk])

    # The ESP's delivery event (Postmark's documented webhook) proves the unconfirmed one went out.
    delivery = {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": esp.message_ids[in_flight],
        "Recipient": rows[in_flight].to_address,
        "Tag": "outreach",
        "DeliveredAt": "2026-11-23T09:00:05.0000000-06:00",
        "Details": "smtp;250 2.0.0 OK",
        "Metadata": {"outreach_message": str(in_flight)},
    }
    response = client.post(
        "/anymail/postmark/tracking/", json.dumps(delivery), content_type="application/json", HTTP_AUTHORIZATION=AUTH
    )
    assert response.status_code == 200
    assert Message.objects.get(pk=in_flight).status == "delivered"
    assert Counter(Activity.objects.filter(kind="sent").values_list("message_id", flat=True)) == Counter(
        {pk: 1 for pk in due}
    )
