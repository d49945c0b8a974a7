"""python manage.py demo_logins: the demo users, their roles and passwords (used by `make demo`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.models import Organization
from refiapp.demo import DEMO_SLUG, demo_logins


class Command(BaseCommand):
    help = "Print the demo usernames, roles and passwords."

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=DEMO_SLUG).first()
        if organization is None:
            raise CommandError("There is no demo lender yet: run `python manage.py seed_demo` first.")
        self.stdout.write(f"Demo logins for {organization.name} (demo data only):")
        self.stdout.write(f"  {'username':<16} {'role':<20} password")
        for username, role, password in demo_logins():
            self.stdout.write(f"  {username:<16} {role:<36} {password}")
