from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organization
from rates import services
from rates.importers import RateFileError, is_fred_csv, read_text


class Command(BaseCommand):
    help = (
        "Load a FRED CSV download (DATE,<ID> or observation_date,<ID>; blank and '.' values skipped) into the "
        "public series, or a desk rate sheet (product/series,date,rate) into an organization's own series."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--organization", metavar="SLUG", help="the organization a rate sheet belongs to")
        parser.add_argument("--user", metavar="USERNAME", help="recorded as who entered a rate sheet")

    def handle(
        self, *args: Any, paths: list[str], organization: str | None = None, user: str | None = None, **options: Any
    ) -> None:
        for name in paths:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            try:
                text = read_text(path.read_bytes())
                if is_fred_csv(text):
                    series, result, parsed = services.rates_import_fred_csv(file=text, label=path.name)
                    self.stdout.write(
                        f"{path.name}: {series.code} — {parsed.rows} rows, {parsed.missing} without a value skipped; "
                        f"stored {result}"
                    )
                else:
                    self._rate_sheet(path, text, organization, user)
            except RateFileError as exc:
                raise CommandError(f"{path.name}: {exc}; nothing imported") from exc

    def _rate_sheet(self, path: Path, text: str, slug: str | None, username: str | None) -> None:
        if not slug:
            raise CommandError(f"{path.name} is not a FRED CSV; a rate sheet needs --organization SLUG")
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"no organization with slug {slug!r}")
        user = get_user_model().objects.filter(username=username).first() if username else None
        if username and user is None:
            raise CommandError(f"no user {username!r}")
        try:
            result = services.rate_sheet_import(organization=organization, file=text, user=user)
        except services.RateSheetInvalid as exc:
            raise CommandError(
                f"{path.name}: nothing imported:\n" + "\n".join(f"  {error}" for error in exc.errors)
            ) from exc
        self.stdout.write(f"{path.name}: rate sheet for {organization.slug} — stored {result}")
