"""The automations' entry points (the schedules and ``run_automations`` call these)."""

from automations.services.lock_alerts import lock_alerts_run
from automations.services.reviews import ReviewResult, reviews_run
from automations.services.status_updates import status_updates_run

__all__ = ["ReviewResult", "lock_alerts_run", "reviews_run", "status_updates_run"]
