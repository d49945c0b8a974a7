"""python manage.py match --org SLUG [--as-of YYYY-MM-DD]: run the match now and print its summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organization
from pipeline.models import MatchRun
from pipeline.services.matching import MatchAlreadyRunning, match_organization


class Command(BaseCommand):
    help = "Match one organization's portfolio against today's market rates and print the MatchRun summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument(
            "--as-of", type=dt.date.fromisoformat, help="Match date (default: today in the org's timezone)."
        )

    def handle(self, *args: Any, org: str, as_of: dt.date | None, **options: Any) -> None:
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        try:
            run = match_organization(organization=organization, as_of=as_of, trigger=MatchRun.Trigger.COMMAND)
        except MatchAlreadyRunning as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_summary(run))


def format_summary(run: MatchRun) -> str:
    lines = [
        f"Match {run.organization.slug} as of {run.as_of} ({run.get_rule_display()}): {run.get_status_display()}",
        f"  considered            {run.considered:>10,}",
        f"  matched               {run.matched:>10,}",
        f"  new                   {run.created:>10,}",
        f"  updated               {run.updated:>10,}",
        f"  no longer qualifying  {run.expired:>10,}",
        "  rates used:",
    ]
    for key, used in run.rates_used.items():
        if used.get("series"):
            fallback = " (fallback)" if used.get("fallback") else ""
            lines.append(f"    {key:<16} {used['rate']:>7} %  {used['series']} {used['date']}{fallback}")
        else:
            lines.append(f"    {key:<16} no market rate: {used.get('loans_skipped', 0):,} loans not matched")
    if not run.rates_used:
        lines.append("    none: no series mapped or no observation yet, nothing was matched")
    lines.append(f"  seconds               {(run.duration_ms or 0) / 1000:>10.2f}")
    return "\n".join(lines)
