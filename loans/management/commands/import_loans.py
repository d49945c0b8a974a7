"""python manage.py import_loans PATH --org SLUG [--format csv|mismo] [--allow-partial]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organization
from loans.models import LoanImport
from loans.services.import_summary import loan_import_summary
from loans.services.imports import loan_import_file


class Command(BaseCommand):
    help = (
        "Import an LOS export (CSV or MISMO 3.x XML) into one organization. Without --allow-partial nothing is "
        "written when any row is invalid. Exits 1 when any row (or the file) was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--format", choices=LoanImport.Format.values, help="Default: detect from the file")
        parser.add_argument("--allow-partial", action="store_true", help="Import the valid rows, skip the bad ones")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = Organization.objects.get(slug=options["org"])
        except Organization.DoesNotExist as exc:
            raise CommandError(f"No organization with slug {options['org']!r}.") from exc
        try:
            loan_import = loan_import_file(
                organization=organization,
                path=options["path"],
                format=options["format"],
                allow_partial=options["allow_partial"],
            )
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc.strerror or exc}") from exc
        self.stdout.write(loan_import_summary(loan_import))
        if loan_import.status != LoanImport.Status.COMMITTED or loan_import.rejected_count:
            raise CommandError(
                "Nothing was imported."
                if loan_import.status != LoanImport.Status.COMMITTED
                else f"{loan_import.rejected_count} rows were rejected and skipped.",
                returncode=1,
            )
