"""python manage.py seed_demo [--loans N]: the demo lender, its staff, products and loan book (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from refiapp.demo import demo_logins, demo_seed


class Command(BaseCommand):
    help = "Create or update the demo lender (slug 'demo'). Running it again changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loans", type=int, default=300, help="Number of demo loans (default 300)")

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_seed(loans=options["loans"])
        self.stdout.write(f"Demo lender: {result.organization.name} (slug {result.organization.slug})")
        for line in result.lines():
            self.stdout.write(f"  {line}")
        self.stdout.write("Demo logins (demo data only):")
        for username, role, password in demo_logins():
            self.stdout.write(f"  {username:<16} {role:<36} {password}")
