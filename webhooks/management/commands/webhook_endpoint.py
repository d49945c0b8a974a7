"""python manage.py webhook_endpoint --org SLUG --url URL --secret whsec_… [--events all|a,b,c] (idempotent)."""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organization
from webhooks.events import EVENT_TYPES, parse_events
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_save


class Command(BaseCommand):
    help = (
        "Create or update an organization's CRM webhook endpoint (by URL). The secret (whsec_ + base64, as the "
        "Standard Webhooks spec and your CRM's verifier expect; or WEBHOOK_SECRET in the environment) is stored "
        "encrypted and never printed. --events is 'all' or a comma-separated list of: " + ", ".join(EVENT_TYPES)
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug")
        parser.add_argument("--url", required=True, help="https URL of the receiver")
        parser.add_argument("--secret", help="whsec_… (default: the WEBHOOK_SECRET environment variable)")
        parser.add_argument("--events", help="all (default for a new endpoint) or a,b,c")
        parser.add_argument("--description")
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--enable", dest="is_active", action="store_true", default=None)
        state.add_argument("--disable", dest="is_active", action="store_false")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        events = None
        if options["events"] is not None:
            try:
                events = parse_events(options["events"])
            except ValueError as exc:
                raise CommandError(f"--events: {exc}.") from exc
        try:
            endpoint, outcome = webhook_endpoint_save(
                organization=organization,
                url=options["url"],
                secret=options["secret"] or os.environ.get("WEBHOOK_SECRET") or None,
                events=events,
                is_active=options["is_active"],
                description=options["description"],
            )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
            raise CommandError(f"The endpoint was not saved: {problems}") from exc
        self.stdout.write(f"{outcome.capitalize()}: {describe(endpoint)}")


def describe(endpoint: WebhookEndpoint) -> str:
    state = "active" if endpoint.is_active else "disabled"
    return (
        f"webhook endpoint {endpoint.url} of {endpoint.organization.slug}: {endpoint.events_label()}; "
        f"secret {'stored encrypted' if endpoint.has_secret else 'MISSING'}; {state}."
    )
