"""Benchmark: outbox dispatch throughput with two django-q2 workers on the Redis broker versus one, same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/refiapp .venv/bin/python bench/dispatch_workers.py \\
        [--messages 1000] [--latency-ms 20] [--redis-url redis://127.0.0.1:6379/14]

Real ESP calls are network-bound, so the ESP sits at the HTTP boundary: a local server speaking SendGrid's v3
``POST /v3/mail/send`` (202 Accepted, empty body) that answers after a fixed latency (20 ms by default). Email goes
through anymail's real SendGrid backend. The workers are real ``scripts/worker`` clusters (``manage.py qcluster``,
one process each) on the Redis broker, like two machines; the bench queues ``outreach.tasks.dispatch_outreach``
tasks (one per worker, and another whenever one ends with messages still due) and times how long the cluster
takes to send every due message. Each message must reach the ESP exactly once.

It uses a database of its own on the same server (``<name>_dispatch_workers``, created and dropped) and flushes
the Redis database it is given (default db 14): give it one nothing else uses.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from book import enrolled_book, local_noon_zone  # noqa: E402  (bench/book.py)


class FakeSendGrid(BaseHTTPRequestHandler):
    """SendGrid v3 mail/send: 202 Accepted after ``latency`` seconds; counts each message (custom anymail id)."""

    latency = 0.02
    lock = threading.Lock()
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ok = self.path == "/v3/mail/send" and self.headers.get("Authorization", "").startswith("Bearer ")
        time.sleep(self.latency)
        with self.lock:
            self.received.append(body)
        self.send_response(202 if ok else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def database_urls() -> tuple[str, str, str]:
    """(maintenance URL, bench database URL, bench database name) from DATABASE_URL (PostgreSQL only)."""
    url = urlsplit(os.environ.get("DATABASE_URL", ""))
    if not url.scheme.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL server (several worker processes write at once)")
    name = f"{url.path.lstrip('/') or 'refiapp'}_dispatch_workers"
    return urlunsplit(url._replace(path="/postgres")), urlunsplit(url._replace(path=f"/{name}")), name


def admin_sql(maintenance_url: str, statement: str) -> None:
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(statement)


def build(slug: str, messages: int) -> None:
    """An organization whose ``messages`` opportunities are enrolled in a one-email sequence due now."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from core.models import Branch, LoanOfficer, Organization
    from loans.models import Borrower
    from outreach.models import Sequence, SequenceStep
    from outreach.services.sequences import DAY_1_BODY, DAY_1_SUBJECT
    from rates.models import RateObservation, RateSeries, SeriesMapping

    today = timezone.now().date()
    org = Organization.objects.create(
        name=f"Bench Lending {slug}", slug=slug, postal_address="1 Bench Way, Springfield, IL 62701", auto_enroll=True
    )
    branch = Branch.objects.create(organization=org, name="Main")
    user = get_user_model().objects.create_user(f"{slug}-officer", password=None)
    officer = LoanOfficer.objects.create(
        user=user, organization=org, branch=branch, display_name="Pat Officer", nmls_id="123456",
        email="pat@bench.example.com", phone="+13125550100",
    )  # fmt: skip
    series, _ = RateSeries.objects.get_or_create(
        code="OBMMIC30YF", organization=None,
        defaults={"title": "Conforming 30", "product_type": "conforming", "term_months": 360},
    )  # fmt: skip
    SeriesMapping.objects.create(organization=org, product_type="conforming", term_months=360, series=series)
    RateObservation.objects.get_or_create(series=series, date=today, defaults={"rate": Decimal("6.125")})
    sequence = Sequence.objects.create(organization=org, name="Bench", is_default=True)
    SequenceStep.objects.create(
        sequence=sequence, position=1, day_offset=1, channel="email",
        subject_template=DAY_1_SUBJECT, body_template=DAY_1_BODY,
    )  # fmt: skip
    zone, now = local_noon_zone(), timezone.now()
    borrowers = Borrower.objects.bulk_create(
        [
            Borrower(
                organization=org, first_name=f"B{i}", last_name="Bench", email=f"{slug}-{i}@mail.example.com",
                timezone=zone, email_consent=True, email_consent_at=now,
            )
            for i in range(messages)
        ],
        batch_size=1000,
    )  # fmt: skip
    enrolled = enrolled_book(
        org=org, officer=officer, branch=branch, borrowers=borrowers, loan_prefix=f"{slug}-", now=now
    )
    assert enrolled == messages, enrolled


class Cluster:
    """One ``scripts/worker`` (a django-q2 cluster of one worker process) in a process group of its own."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.log = logs / f"{name}.log"
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "worker")],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready(self) -> bool:
        return "running." in self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def wait(condition, what: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def measure(slug: str, workers: int, messages: int, env: dict[str, str], logs: Path) -> float:
    """Messages per second that ``workers`` clusters reach sending ``messages`` due emails of a new organization."""
    from django_q.models import Task
    from django_q.tasks import async_task

    from outreach.models import Message

    build(slug, messages)
    clusters = [Cluster(f"{slug}-worker-{i}", env, logs) for i in range(workers)]
    try:
        wait(lambda: all(c.ready() for c in clusters), "the clusters to start", 60)
        mine = Message.objects.filter(organization__slug=slug)
        before = len(FakeSendGrid.received)
        started = time.perf_counter()
        pending = {async_task("outreach.tasks.dispatch_outreach") for _ in range(workers)}
        while mine.filter(status__in=["scheduled", "sending"]).exists():
            finished = set(Task.objects.filter(id__in=pending).values_list("id", flat=True))
            pending -= finished
            if finished and mine.filter(status="scheduled").exists():
                # a pass ended (its time budget) with messages still due: keep one pass per worker going
                pending |= {async_task("outreach.tasks.dispatch_outreach") for _ in finished}
            time.sleep(0.05)
            if time.perf_counter() - started > 600:
                raise SystemExit(f"messages still due after 10 minutes (see {logs})")
        elapsed = time.perf_counter() - started
    finally:
        for cluster in clusters:
            cluster.stop()
    sent = mine.filter(status="sent").count()
    calls = len(FakeSendGrid.received) - before
    assert sent == messages == calls, (sent, messages, calls)
    rate = messages / elapsed
    print(f"  {workers} worker(s): {messages} emails in {elapsed:.2f} s → {rate:.1f} emails/s (each sent once)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the fake ESP's fixed response time")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="a Redis database for the broker")
    args = parser.parse_args()

    maintenance, bench_url, bench_db = database_urls()
    FakeSendGrid.latency = args.latency_ms / 1000
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSendGrid)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.esp_settings",
        "DATABASE_URL": bench_url,
        "REDIS_URL": args.redis_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "FIELD_ENCRYPTION_KEY": os.environ.get("FIELD_ENCRYPTION_KEY") or Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "EMAIL_BACKEND": "anymail.backends.sendgrid.EmailBackend",
        "SENDGRID_API_KEY": "SG.bench-only",
        "BENCH_SENDGRID_API_URL": f"http://127.0.0.1:{server.server_address[1]}/v3/",
        "PUBLIC_BASE_URL": "https://refi.example.com",
        "Q_WORKERS": "1",
        "LOG_LEVEL": "INFO",  # the clusters' logs (in /tmp/<db>-logs) say when they run
        "PYTHON": sys.executable,
    }
    os.environ.update(env)
    admin_sql(maintenance, f"DROP DATABASE IF EXISTS {bench_db} WITH (FORCE)")
    admin_sql(maintenance, f"CREATE DATABASE {bench_db}")
    logs = Path(f"/tmp/{bench_db}-logs")
    logs.mkdir(exist_ok=True)
    try:
        import django

        django.setup()
        import redis
        from django.core.management import call_command

        redis.from_url(args.redis_url).flushdb()
        call_command("migrate", verbosity=0)
        print(
            f"dispatch on the Redis broker ({args.redis_url}), ESP = local SendGrid v3 fake at "
            f"{args.latency_ms:.0f} ms, {args.messages} due emails per run, PostgreSQL {bench_db}"
        )
        one = measure("one", 1, args.messages, env, logs)
        two = measure("two", 2, args.messages, env, logs)
        print(f"two workers / one worker: {two / one:.2f}x (target ≥ 1.5x)")
    finally:
        from django.db import connections

        connections.close_all()
        server.shutdown()
        admin_sql(maintenance, f"DROP DATABASE IF EXISTS {bench_db} WITH (FORCE)")


if __name__ == "__main__":
    main()
