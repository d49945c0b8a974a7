"""python manage.py los_connection --org SLUG --kind encompass|folder … (creates or updates; idempotent)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organization
from los.models import LosConnection, Weekday
from los.services.connections import los_connection_save

WEEKDAYS = {day.label.lower(): day.value for day in Weekday}


class Command(BaseCommand):
    help = (
        "Create or update an organization's LOS connection: an Encompass instance (--base-url, --client-id, "
        "--client-secret or LOS_CLIENT_SECRET in the environment, --instance-id) or a drop folder (--path: a "
        "directory or s3://bucket/prefix). Running it again with the same values changes nothing. The client "
        "secret is stored encrypted and never printed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--kind", required=True, choices=LosConnection.Kind.values)
        parser.add_argument("--name", help="Connection name (default: 'Encompass' or 'Drop folder')")
        parser.add_argument("--base-url", help="Encompass API base URL (default https://api.elliemae.com)")
        parser.add_argument("--client-id")
        parser.add_argument("--client-secret", help="Default: the LOS_CLIENT_SECRET environment variable")
        parser.add_argument("--instance-id")
        parser.add_argument("--path", help="Drop folder: a directory on this server or s3://bucket/prefix")
        parser.add_argument("--schedule", choices=LosConnection.Schedule.values)
        parser.add_argument("--at", help="Local time of the run, HH:MM in the organization's time zone")
        parser.add_argument("--weekday", choices=sorted(WEEKDAYS, key=WEEKDAYS.get), help="For --schedule weekly")
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--enable", dest="enabled", action="store_true", default=None)
        state.add_argument("--disable", dest="enabled", action="store_false")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        run_at = None
        if options["at"]:
            try:
                run_at = dt.time.fromisoformat(options["at"])
            except ValueError as exc:
                raise CommandError(f"--at must be HH:MM, got {options['at']!r}.") from exc
        weekday = WEEKDAYS[options["weekday"]] if options["weekday"] else None
        if options["schedule"] == LosConnection.Schedule.WEEKLY and weekday is None:
            weekday = Weekday.MONDAY
        try:
            connection, outcome = los_connection_save(
                organization=organization,
                kind=options["kind"],
                name=options["name"],
                client_secret=options["client_secret"] or os.environ.get("LOS_CLIENT_SECRET") or None,
                base_url=options["base_url"],
                client_id=options["client_id"],
                instance_id=options["instance_id"],
                folder=options["path"],
                schedule=options["schedule"],
                run_at=run_at,
                weekday=weekday,
                enabled=options["enabled"],
            )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
            raise CommandError(f"The connection was not saved: {problems}") from exc
        self.stdout.write(f"{outcome.capitalize()}: {describe(connection)}")


def describe(connection: LosConnection) -> str:
    if connection.kind == LosConnection.Kind.ENCOMPASS:
        source = (
            f"Encompass at {connection.base_url}, instance {connection.instance_id}, client id {connection.client_id}, "
            f"client secret {'stored encrypted' if connection.has_secret else 'MISSING'}"
        )
    else:
        source = f"drop folder {connection.folder}"
    state = "enabled" if connection.enabled else "disabled"
    return (
        f"'{connection.name}' of {connection.organization.slug}: {source}; {connection.schedule_label()} "
        f"{connection.organization.timezone}; {state}."
    )
