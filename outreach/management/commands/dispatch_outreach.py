from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from outreach.services.dispatch import dispatch_due_messages
from outreach.services.webhooks import webhook_events_process_pending


class Command(BaseCommand):
    help = "Run one pass of the outreach dispatcher: reconcile stuck sends, then send every due message."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="Claim at most this many messages.")
        parser.add_argument("--no-time-budget", action="store_true", help="Run until nothing is due.")
        parser.add_argument("--webhooks", action="store_true", help="Also retry unprocessed webhook events.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["webhooks"]:
            processed = webhook_events_process_pending()
            self.stdout.write(f"webhook events processed: {processed}")
        stats = dispatch_due_messages(
            limit=options["limit"], time_budget=None if options["no_time_budget"] else 50.0
        ).as_dict()
        self.stdout.write(" ".join(f"{key}={value}" for key, value in stats.items()))
