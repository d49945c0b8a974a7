"""Reads of the los app: when a connection is due, its syncs, the summary of one sync."""

from __future__ import annotations

import datetime as dt

from los.models import LosConnection


def latest_slot(connection: LosConnection, now: dt.datetime) -> dt.datetime:
    """The most recent scheduled time at or before ``now``: the chosen local time in the organization's zone,
    every day or on the chosen weekday (a time that a DST change skips runs an hour later that day)."""
    zone = connection.organization.zone
    local = now.astimezone(zone)
    day = local.date()
    if connection.schedule == LosConnection.Schedule.WEEKLY and connection.weekday is not None:
        day -= dt.timedelta(days=(day.weekday() - connection.weekday) % 7)
    step = dt.timedelta(days=7 if connection.schedule == LosConnection.Schedule.WEEKLY else 1)
    slot = dt.datetime.combine(day, connection.run_at, tzinfo=zone)
    while slot > local:
        day -= step
        slot = dt.datetime.combine(day, connection.run_at, tzinfo=zone)
    return slot.astimezone(dt.UTC)


def due_slot(connection: LosConnection, now: dt.datetime) -> dt.datetime | None:
    """The slot to run now, or None when the latest one has run (a new connection is due at once)."""
    slot = latest_slot(connection, now)
    if connection.last_slot is not None and connection.last_slot >= slot:
        return None
    return slot
