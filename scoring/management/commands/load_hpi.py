"""python manage.py load_hpi [--fred]: load the shipped FHFA house price indexes (and fetch FRED's with --fred)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from scoring.services.hpi import hpi_fetch_fred, hpi_load_shipped


class Command(BaseCommand):
    help = (
        "Load the FHFA state house price indexes shipped in scoring/data (idempotent); --fred also fetches <ST>STHPI."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fred", action="store_true", help="Then fetch every state's <ST>STHPI from FRED.")

    def handle(self, *args: Any, fred: bool, **options: Any) -> None:
        result = hpi_load_shipped()
        self.stdout.write(
            f"shipped history: {result.created} new, {result.updated} revised, {result.unchanged} unchanged"
        )
        if fred:
            outcome = hpi_fetch_fred()
            if not outcome:
                self.stdout.write("FRED_API_KEY is not set: nothing fetched.")
            for state, text in sorted(outcome.items()):
                self.stdout.write(f"  {state}STHPI: {text}")
