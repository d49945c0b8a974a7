"""Print a new API token for a user (for scripts): ``manage.py create_api_token USERNAME [--name NAME]``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import LoanOfficer
from refinance.api.tokens import ApiTokenError, api_token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME in the user's organization and print it (it is shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Command line", help="A label to recognise the token in admin.")

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        profile = LoanOfficer.objects.select_related("organization").filter(user=user, is_active=True).first()
        if profile is None:
            raise CommandError(f"{username} has no active staff profile, so a token would have no organization.")
        try:
            token, raw = api_token_create(organization=profile.organization, user=user, name=name)
        except ApiTokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Created API token {token.prefix}… for {username} in {profile.organization.slug} "
            "(use it as Authorization: Bearer <token>, X-Tenant-ID: the slug). It will not be shown again."
        )
        self.stdout.write(raw)
