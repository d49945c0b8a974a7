"""python manage.py setup_organization SLUG --name "Lender" --address "..." [--admin-email EMAIL] [--timezone ZONE]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refiapp.onboarding import SetupError, organization_setup


class Command(BaseCommand):
    help = "Create an organization with its defaults (rate mappings, thresholds, sequence), manager group and admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", default="")
        parser.add_argument("--timezone", default="", help="IANA zone, e.g. America/Chicago (default New York)")
        parser.add_argument(
            "--address", required=True, help="Postal address printed in every marketing email (CAN-SPAM)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = organization_setup(
                slug=options["slug"],
                name=options["name"],
                admin_email=options["admin_email"],
                timezone=options["timezone"],
                postal_address=options["address"],
            )
        except SetupError as exc:
            raise CommandError(str(exc)) from exc
        org = result.organization
        self.stdout.write(f"Organization {org.slug} ({org.name}): {result.organization_outcome}.")
        self.stdout.write("Defaults: rate series, product mappings, threshold bands, default sequence, manager group.")
        if result.admin is not None:
            self.stdout.write(f"Org admin {result.admin.email}: {result.admin_outcome} (set a password to sign in).")
