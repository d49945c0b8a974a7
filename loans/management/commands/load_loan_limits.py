"""python manage.py load_loan_limits PATH --year YYYY [--assign-counties]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loans.limits import LimitFileError, loan_limits_load, loans_assign_counties


class Command(BaseCommand):
    help = (
        "Load one year's county loan limits: FHFA's conforming loan limit list (county_fips, limit_1_unit, …) or a "
        "county file with GSE and FHA limits (Complete FIPS, GSE limit, FHA limit, …). All rows or none; a rerun "
        "changes nothing. The match and the refinance rules use the newest year loaded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--year", type=int, required=True, help="The year the limits apply to, e.g. 2027")
        parser.add_argument(
            "--assign-counties",
            action="store_true",
            help="Also give every loan with a property ZIP and no county its county (from the ZIP)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        if not 2000 <= options["year"] <= 2100:
            raise CommandError("--year must be between 2000 and 2100.")
        try:
            written = loan_limits_load(file=path, year=options["year"])
        except (LimitFileError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path.name}: {exc}") from exc
        self.stdout.write(f"{options['year']}: {written} counties written from {path.name}")
        if options["assign_counties"]:
            self.stdout.write(f"counties assigned to {loans_assign_counties()} loans")
