from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from refiapp.schedules import setup_schedules


class Command(BaseCommand):
    help = "Create or update every django-q2 schedule of refiapp by name (safe to rerun on every deploy)."

    def handle(self, *args: Any, **options: Any) -> None:
        for schedule, outcome in setup_schedules():
            self.stdout.write(
                f"{schedule.name}: {outcome} — {schedule.func}, next run {schedule.next_run:%Y-%m-%d %H:%M %Z}"
            )
