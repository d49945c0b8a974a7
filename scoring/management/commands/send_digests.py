"""python manage.py send_digests --org SLUG [--dry-run]: queue this month's borrower digests."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organization
from scoring.services.digests import digests_queue


class Command(BaseCommand):
    help = (
        "Queue this month's digest for every nurture borrower (score below the policy's threshold, no running "
        "sequence, email consent) through the outbox; at most one per borrower and month. --dry-run prints the "
        "recipients and one rendered digest and writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--dry-run", action="store_true", help="Print the recipients and one digest; send nothing.")

    def handle(self, *args: Any, org: str, dry_run: bool, **options: Any) -> None:
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        result = digests_queue(organization=organization, dry_run=dry_run)
        month = f"{result.month:%B %Y}"
        if not dry_run:
            self.stdout.write(f"{organization.slug}: {result.queued} digest(s) for {month} queued in the outbox.")
            return
        self.stdout.write(f"{organization.slug}: {len(result.recipients)} digest(s) for {month} would be queued.")
        for name, email in result.recipients:
            self.stdout.write(f"  {name} <{email}>")
        if result.sample is not None:
            self.stdout.write(f"\nSubject: {result.sample.subject}\n\n{result.sample.text}")
