"""django-q2 tasks of the los app: they only fetch ids and call services."""

from __future__ import annotations

from django_q.tasks import async_task

from los.models import LosConnection, LosSync
from los.services.sync import SyncRefused, los_sync_run, los_syncs_run_due


def run_due_syncs() -> str:
    """Every 15 minutes ("los-syncs" in refiapp/schedules.py): claim the connections whose local time has come
    and run each as its own task (so one slow Encompass does not hold up the others)."""
    claimed = los_syncs_run_due()
    for connection_id in claimed:
        async_task("los.tasks.sync_connection", connection_id, LosSync.Trigger.SCHEDULE.value)
    return f"{len(claimed)} connection(s) due"


def sync_connection(connection_id: int, trigger: str = LosSync.Trigger.SCHEDULE.value) -> str:
    connection = LosConnection.objects.select_related("organization").filter(pk=connection_id).first()
    if connection is None:
        return f"connection {connection_id} no longer exists"
    try:
        sync = los_sync_run(connection=connection, trigger=trigger)
    except SyncRefused as exc:
        return str(exc)
    return f"{connection.name}: {sync.get_status_display()}. {sync.message}"
