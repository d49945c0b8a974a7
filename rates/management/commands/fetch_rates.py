from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rates import services
from rates.models import RateFetch


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--since must be a date like 2026-01-31, got {value!r}") from exc


class Command(BaseCommand):
    help = "Fetch market rates from FRED now (what the daily schedule does) and print what was stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--series", nargs="+", metavar="ID", help="FRED series ids (default: every series with fetch enabled)"
        )
        parser.add_argument(
            "--since",
            type=iso_date,
            metavar="DATE",
            help="first date to fetch (default: 4 weeks before the newest stored)",
        )

    def handle(self, *args: Any, series: list[str] | None = None, since: dt.date | None = None, **options: Any) -> None:
        if not services.fred_configured():
            raise CommandError(
                "FRED_API_KEY is not set: nothing fetched. Get a free key at "
                "https://fred.stlouisfed.org/docs/api/api_key.html; until then refiapp runs on the FRED history "
                "shipped in rates/data (python manage.py import_rates rates/data/OBMMIC30YF.csv loads a file)."
            )
        try:
            fetches = services.fetch_all_rates(codes=series, since=since)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        failed = 0
        for fetch in fetches:
            if fetch.status == RateFetch.Status.SUCCEEDED:
                self.stdout.write(
                    f"{fetch.series.code}: received {fetch.observations_received}, stored {fetch.created} new, "
                    f"{fetch.revised} revised"
                )
            else:
                failed += 1
                self.stderr.write(f"{fetch.series.code}: FAILED — {fetch.error}")
        if failed:
            raise CommandError(f"{failed} of {len(fetches)} series failed; their stored data is unchanged.")
        self.stdout.write(self.style.SUCCESS(f"Fetched {len(fetches)} series."))
