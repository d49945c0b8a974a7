"""Benchmark: a loan import against a plain PostgreSQL COPY of the same file, in the same run.

    DEBUG=1 DATABASE_URL=postgres://... python bench/import_copy.py --rows 1000000

1. Generates N valid rows (the generator of bench/import_csv.py: 16 columns, every row a new borrower with
   email consent, so a first import writes N borrowers, N loans and N consent events).
2. Plain COPY: the file into an empty table with one text column per CSV column (``COPY ... FORMAT csv``).
3. Import: ``loan_import_file`` (what ``import_loans`` runs: store, check every row, write, one pass) on an
   organization without loans: every row created.
4. Re-import of the same file: every row unchanged, nothing written (the row digests: nothing parsed either).
   Then the file a day later: one loan in ten changed (parsed, checked and written), the rest unchanged.
5. The schema's floor: the rows of step 3 inserted again by plain SQL into the same tables (indexes, deferred
   foreign keys forced), rolled back: the least any import into this schema can take.

Prints each phase's seconds, its ratio to the plain COPY and the process's peak RSS
(``resource.getrusage``); the targets are import ≤ 10× COPY, re-import ≤ 5× COPY, peak RSS ≤ 300 MB. With
``--tracemalloc`` a separate 100k-row import reports Python's own peak allocation (tracemalloc slows
Python down, so it is never timed). Uses an organization with slug ``bench`` and deletes its loans
before and after (unless --keep).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refiapp.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

settings.DEBUG = False  # as in production: DEBUG=1 (needed without a SECRET_KEY) would also log every query

from import_csv import generate  # noqa: E402

from core.models import Organization  # noqa: E402
from loans.models import Loan, LoanImport  # noqa: E402
from loans.services.imports import loan_import_file  # noqa: E402


def clean(organization: Organization) -> None:
    """Delete the bench organization's rows with plain SQL (the ORM's cascade would load them all into memory,
    and this process's peak RSS must be the import's)."""
    with connection.cursor() as cursor:
        for table in ("los_application", "loans_consentevent", "loans_loan", "loans_borrower", "loans_loanimport"):
            cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [organization.pk])


def vacuum() -> None:
    """As a first import meets them: the tables without the bench's own deleted rows (dead index entries that
    every probe of the first chunk would step over)."""
    with connection.cursor() as cursor:
        for table in ("loans_consentevent", "loans_loan", "loans_borrower"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def schema_floor(organization: Organization, baseline: float) -> float:
    """The same rows the first import wrote, inserted again with plain SQL (no parsing, no plan, no checks of
    ours) into the real tables with their indexes and foreign keys, the deferred checks forced before the clock
    stops; rolled back. What no import into this schema can beat."""
    tables = ("loans_borrower", "loans_loan", "loans_consentevent")
    seconds = 0.0
    with transaction.atomic():
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(
                    f"CREATE TEMP TABLE floor_{table} ON COMMIT DROP AS "
                    f"SELECT * FROM {table} WHERE organization_id = %s",
                    [organization.pk],
                )
            for table in reversed(tables):
                cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [organization.pk])
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            start = time.perf_counter()
            for table in tables:
                cursor.execute(f"INSERT INTO {table} SELECT * FROM floor_{table}")
            seconds = time.perf_counter() - start
        transaction.set_rollback(True)
    print(f"{'schema floor (plain INSERT)':<28} {seconds:8.1f} s {seconds / baseline:5.1f}x   (rolled back)")
    return seconds


def with_changes(path: Path, target: Path, every: int = 10) -> int:
    """The same export a day later: every ``every``-th loan's DTI changed (the rest byte for byte the same)."""
    changed = 0
    with path.open(encoding="utf-8", newline="") as source, target.open("w", encoding="utf-8", newline="") as out:
        reader, writer = csv.reader(source), csv.writer(out)
        writer.writerow(next(reader))
        for index, record in enumerate(reader):
            if index % every == 0:
                record[-1] = "49.9"
                changed += 1
            writer.writerow(record)
    return changed


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_copy(path: Path) -> float:
    with path.open(encoding="utf-8", newline="") as handle:
        width = len(next(csv.reader(handle)))
    columns = ", ".join(f"c{index} text" for index in range(width))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS bench_plain_copy; CREATE TABLE bench_plain_copy ({columns})")
        start = time.perf_counter()
        with cursor.copy("COPY bench_plain_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            with path.open("rb") as handle:
                while data := handle.read(1 << 20):
                    copy.write(data)
        seconds = time.perf_counter() - start
        cursor.execute("SELECT count(*) FROM bench_plain_copy")
        copied = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_plain_copy")
    print(f"{'plain COPY':<28} {seconds:8.1f} s   1.0x   ({copied:,} rows)")
    return seconds


def timed_import(label: str, organization: Organization, path: Path, baseline: float) -> tuple[LoanImport, float]:
    start = time.perf_counter()
    loan_import = loan_import_file(organization=organization, path=str(path))
    seconds = time.perf_counter() - start
    rate = loan_import.total_rows / seconds
    print(
        f"{label:<28} {seconds:8.1f} s {seconds / baseline:5.1f}x   {rate:9,.0f} rows/s   "
        f"created {loan_import.created_count:,} updated {loan_import.updated_count:,} "
        f"unchanged {loan_import.unchanged_count:,} rejected {loan_import.rejected_count:,}   "
        f"peak RSS {peak_rss_mb():6.1f} MB"
    )
    return loan_import, seconds


def python_peak(organization: Organization, rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traced.csv"
        generate(path, rows)
        clean(organization)
        tracemalloc.start()
        loan_import_file(organization=organization, path=str(path))
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"tracemalloc peak of a {rows:,}-row import: {peak / 1e6:.1f} MB of Python allocations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--file", type=Path, help="reuse a generated CSV (written there when missing)")
    parser.add_argument("--tracemalloc", action="store_true", help="also report Python's peak allocation")
    parser.add_argument("--keep", action="store_true", help="keep the imported loans")
    args = parser.parse_args()

    organization, _ = Organization.objects.get_or_create(
        slug="bench", defaults={"name": "Benchmark Lender", "postal_address": "1 Bench Street, Chicago, IL 60601"}
    )
    clean(organization)
    if connection.vendor == "postgresql":
        vacuum()
    print(f"database: {connection.vendor}  rows: {args.rows:,}  peak RSS after setup {peak_rss_mb():.1f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or Path(tmp) / "bench.csv"
        if not path.exists():
            start = time.perf_counter()
            generate(path, args.rows)
            print(f"generated {path} in {time.perf_counter() - start:.1f} s")
        print(f"file size {path.stat().st_size / 1e6:.1f} MB")
        baseline = plain_copy(path) if connection.vendor == "postgresql" else float("nan")
        first, import_s = timed_import("import (every row new)", organization, path, baseline)
        assert first.status == LoanImport.Status.COMMITTED and first.created_count == first.total_rows, first.errors[:5]
        again, reimport_s = timed_import("re-import (every row same)", organization, path, baseline)
        assert again.unchanged_count == again.total_rows, (again.created_count, again.updated_count)
        changed_path = Path(tmp) / "changed.csv"
        changed = with_changes(path, changed_path)
        daily, _daily_s = timed_import("re-import (10 % changed)", organization, changed_path, baseline)
        assert (daily.updated_count, daily.unchanged_count) == (changed, daily.total_rows - changed)
        print(f"loans in the database: {Loan.objects.filter(organization=organization).count():,}")
        if connection.vendor == "postgresql":
            schema_floor(organization, baseline)
        print(
            f"targets: import {import_s / baseline:.1f}x COPY (<= 10x), re-import {reimport_s / baseline:.1f}x "
            f"(<= 5x), peak RSS {peak_rss_mb():.0f} MB (<= 300 MB)"
        )
    if args.tracemalloc:
        python_peak(organization, min(args.rows, 100_000))
    if not args.keep:
        clean(organization)


if __name__ == "__main__":
    main()
