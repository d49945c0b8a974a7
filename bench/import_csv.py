"""Benchmark: import an N-row CSV through the real service on the configured database.

    DEBUG=1 DATABASE_URL=postgres://... python bench/import_csv.py --rows 100000

Generates N valid rows into a temp file, then times preview (every row checked, nothing written), commit
(every row created) and a re-import of the same file (every row unchanged, nothing written). Prints rows/s
per phase and the process's peak RSS. Uses an organization with slug ``bench`` and deletes its loans first
and afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refiapp.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

settings.DEBUG = False  # as in production: DEBUG=1 (needed without a SECRET_KEY) would also log every query

from core.models import Organization  # noqa: E402
from loans.models import Borrower, ConsentEvent, Loan, LoanImport  # noqa: E402
from loans.services.imports import loan_import_commit, loan_import_preview  # noqa: E402

HEADER = [
    "Loan Number", "Borrower First Name", "Borrower Last Name", "Borrower Email", "Borrower Mobile", "Mailing State",
    "Email Consent", "Loan Amount", "Note Rate", "Term", "Note Date", "Loan Type", "Loan Purpose", "Property Value",
    "Credit Score", "DTI",
]  # fmt: skip


def generate(path: Path, rows: int) -> None:
    rng = random.Random(20251001)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index in range(rows):
            amount = rng.randrange(90_000, 700_000, 500)
            writer.writerow([
                f"B{index:08d}", "Alex", f"Bench{index}", f"alex.bench{index}@example.com",
                f"(312) 555-{index % 10000:04d}", "IL", "Y", f"${amount:,}.00", f"{rng.uniform(2.5, 7.9):.3f}%",
                rng.choice([180, 360]), f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2019, 2024)}",
                rng.choice(["Conventional", "FHA", "VA"]), "Purchase", f"{int(amount * 1.25):,}", rng.randint(620, 820),
                f"{rng.uniform(18, 48):.1f}",
            ])  # fmt: skip


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clean(organization: Organization) -> None:
    Loan.objects.filter(organization=organization).delete()
    ConsentEvent.objects.filter(organization=organization).delete()
    Borrower.objects.filter(organization=organization).delete()
    LoanImport.objects.filter(organization=organization).delete()


def timed(label: str, rows: int, func):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = func()
    seconds = time.perf_counter() - start
    print(f"{label:<26} {seconds:8.1f} s  {rows / seconds:10,.0f} rows/s  peak RSS {peak_rss_mb():7.1f} MB")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the imported loans")
    args = parser.parse_args()

    organization, _ = Organization.objects.get_or_create(
        slug="bench", defaults={"name": "Benchmark Lender", "postal_address": "1 Bench Street, Chicago, IL 60601"}
    )
    clean(organization)
    print(f"database: {connection.vendor}  rows: {args.rows:,}  peak RSS after setup {peak_rss_mb():.1f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        timed("generate CSV", args.rows, lambda: generate(path, args.rows))
        print(f"file size {path.stat().st_size / 1e6:.1f} MB")

        def preview() -> LoanImport:
            with path.open("rb") as handle:
                return loan_import_preview(organization=organization, file=handle, filename="bench.csv")

        loan_import = timed("preview (check only)", args.rows, preview)
        assert loan_import.created_count == args.rows, loan_import.errors[:5]
        loan_import = timed("commit (create all)", args.rows, lambda: loan_import_commit(loan_import=loan_import))
        assert loan_import.created_count == args.rows
        again = timed("re-import preview", args.rows, preview)
        again = timed("re-import commit", args.rows, lambda: loan_import_commit(loan_import=again))
        assert again.unchanged_count == args.rows, (again.created_count, again.updated_count)
        print(f"loans in the database: {Loan.objects.filter(organization=organization).count():,}")
    if not args.keep:
        clean(organization)


if __name__ == "__main__":
    main()
