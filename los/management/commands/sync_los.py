"""python manage.py sync_los --org SLUG [--name NAME]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organization
from loans.services.import_summary import summary_text
from los.models import LosConnection, LosSync
from los.services.sync import SyncRefused, los_sync_run


class Command(BaseCommand):
    help = (
        "Run an organization's LOS connections now (every enabled one, or --name) and print each sync's summary "
        "as import_loans prints an import. Exits 1 when a sync failed or rows were rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--name", help="Only this connection (also when it is disabled)")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        connections = LosConnection.objects.for_organization(organization).select_related("organization")
        connections = connections.filter(name=options["name"]) if options["name"] else connections.filter(enabled=True)
        if not connections:
            raise CommandError(
                f"{organization.slug} has no connection named {options['name']!r}."
                if options["name"]
                else f"{organization.slug} has no enabled LOS connection; create one with los_connection."
            )
        failed = rejected = 0
        for connection in connections:
            try:
                sync = los_sync_run(connection=connection, trigger=LosSync.Trigger.COMMAND)
            except SyncRefused as exc:
                self.stdout.write(str(exc))
                failed += 1
                continue
            self.stdout.write(sync_summary(sync))
            failed += sync.status != LosSync.Status.SUCCEEDED
            rejected += sync.rejected_count
        if failed or rejected:
            raise CommandError(
                f"{failed} sync(s) failed." if failed else f"{rejected} rows were rejected and skipped.", returncode=1
            )


def sync_summary(sync: LosSync) -> str:
    extra = [sync.message]
    if sync.connection.kind == LosConnection.Kind.ENCOMPASS:
        extra.append(
            f"applications created {sync.applications_created}  updated {sync.applications_updated}"
            f"  unchanged {sync.applications_unchanged}"
        )
    else:
        extra.append(f"files imported {sync.files_processed}  rejected {sync.files_rejected}")
    return summary_text(
        title=f"{sync.connection.name} ({sync.connection.get_kind_display()}): {sync.get_status_display()}",
        total=sync.total_rows,
        created=sync.created_count,
        updated=sync.updated_count,
        unchanged=sync.unchanged_count,
        rejected=sync.rejected_count,
        errors=sync.errors,
        extra=extra,
    )
