from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.models import Organization
from reports.periods import last_full_week_start, week_period
from reports.services import weekly_report_send


class Command(BaseCommand):
    help = (
        "Send the weekly results report of an organization to its branch managers and org admins now "
        "(the last full Monday–Sunday week in the organization's timezone). Recipients who already have that "
        "week's report are skipped unless --resend is given. --dry-run prints what would be sent and sends nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, metavar="SLUG", help="The organization's slug.")
        parser.add_argument("--dry-run", action="store_true", help="Print each email's recipient, subject and text.")
        parser.add_argument(
            "--week", metavar="YYYY-MM-DD", help="The Monday of the week to report (default: last week)."
        )
        parser.add_argument("--resend", action="store_true", help="Also send to recipients who already had it.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = Organization.objects.get(slug=options["org"])
        except Organization.DoesNotExist as exc:
            raise CommandError(f"No organization with slug {options['org']!r}.") from exc
        if options["week"]:
            try:
                week_start = dt.date.fromisoformat(options["week"])
                week_period(week_start, timezone=organization.timezone)
            except ValueError as exc:
                raise CommandError(f"--week must be a Monday as YYYY-MM-DD: {exc}") from exc
        else:
            week_start = last_full_week_start(timezone=organization.timezone, now=timezone.now())
        period = week_period(week_start, timezone=organization.timezone)
        dry_run = options["dry_run"]
        outcomes = weekly_report_send(
            organization=organization, week_start=week_start, dry_run=dry_run, resend=options["resend"]
        )
        verb = "Would send" if dry_run else "Weekly report"
        self.stdout.write(f"{verb} for {organization.name} ({organization.slug}), week of {period.label}:")
        if not outcomes:
            self.stdout.write("  nobody: the organization has no active branch manager or org admin.")
        for outcome in outcomes:
            who = f"{outcome.recipient.display_name} <{outcome.to}> ({outcome.recipient.get_role_display()})"
            if outcome.status in ("dry_run", "dry_run_already_sent"):
                note = " — already sent, a real run skips it" if outcome.status == "dry_run_already_sent" else ""
                self.stdout.write(f"\nTo: {who}{note}\nSubject: {outcome.email.subject}\n")
                self.stdout.write(outcome.email.text)
            elif outcome.status == "sent":
                self.stdout.write(self.style.SUCCESS(f"  sent to {who}"))
            elif outcome.status == "skipped":
                self.stdout.write(f"  skipped {who}: already sent for this week")
            else:
                self.stdout.write(self.style.ERROR(f"  FAILED for {who}: {outcome.error}"))
        if dry_run:
            self.stdout.write("\nDry run: nothing was sent or recorded.")
        if any(outcome.status == "failed" for outcome in outcomes):
            raise CommandError("Some reports could not be sent; run the command again to retry them.")
