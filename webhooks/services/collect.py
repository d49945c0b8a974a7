"""``webhooks_collect``: new timeline and refinance-audit rows → one delivery per subscribed endpoint, once.

Per organization with an active endpoint, in one transaction holding its cursor row: for each source table, the
rows after the cursor (and in its open gaps) are turned into deliveries by one INSERT … SELECT over every
endpoint's subscriptions, then the cursor moves. Ids are taken in insert order but committed in any order: an id
below the newest one that is not visible yet belongs to a transaction still running, so the empty ranges are kept
as gaps and read again until they fill or expire (``GAP_SECONDS``). The unique (endpoint, event id) makes every
re-read harmless. Bulk inserts (the match) are read like any other: nothing relies on signals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.models import Organization
from outreach.models import Message
from pipeline.models import Activity
from refinance.models import RefinanceEvent, RefinanceTransaction
from webhooks.events import ACTIVITY_EVENTS, EVENT_TYPES, LOCK_ALERT_KIND, LOCK_ALERT_SENT, REFINANCE_EVENTS
from webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint

GAP_SECONDS = 3600  # longer than any transaction that writes the timeline (the task timeout is 600 s)
MAX_GAPS = 1000

Range = tuple[int, int]  # inclusive


@dataclass(frozen=True)
class Source:
    table: str
    cursor_field: str
    gaps_field: str
    id_column: str  # WebhookDelivery's column for the source id
    prefix: str  # event id = "msg_" + prefix + source id
    alias: str  # of the source table in ``select``
    select: str  # rows (id, created_at, occurred_at, event_type) of organization %(org)s within {ranges}


def _activity_select() -> str:
    kinds = ", ".join(f"'{kind}'" for kind in ACTIVITY_EVENTS)
    cases = " ".join(f"WHEN a.kind = '{kind}' THEN '{event}'" for kind, event in ACTIVITY_EVENTS.items())
    return f"""
        SELECT a.id, a.created_at, a.occurred_at,
               CASE WHEN a.kind = 'sent' AND m.kind = '{LOCK_ALERT_KIND}' THEN '{LOCK_ALERT_SENT}' {cases} END
               AS event_type
        FROM {Activity._meta.db_table} a
        LEFT JOIN {Message._meta.db_table} m ON m.id = a.message_id AND a.kind = 'sent'
        WHERE a.organization_id = %(org)s AND a.kind IN ({kinds}) AND ({{ranges}})
    """


def _refinance_select() -> str:
    cases = " ".join(f"WHEN e.to_status = '{status}' THEN '{event}'" for status, event in REFINANCE_EVENTS.items())
    return f"""
        SELECT e.id, e.created_at, e.created_at AS occurred_at, CASE {cases} END AS event_type
        FROM {RefinanceEvent._meta.db_table} e
        JOIN {RefinanceTransaction._meta.db_table} r ON r.id = e.transaction_id
        WHERE r.organization_id = %(org)s AND ({{ranges}})
    """


def _sources() -> list[Source]:
    return [
        Source(Activity._meta.db_table, "activity_id", "activity_gaps", "activity_id", "a", "a", _activity_select()),
        Source(
            RefinanceEvent._meta.db_table,
            "refinance_event_id",
            "refinance_event_gaps",
            "refinance_event_id",
            "r",
            "e",
            _refinance_select(),
        ),
    ]


def _max_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        return int(cursor.fetchone()[0])


def cursor_start() -> tuple[int, int]:
    """The cursor of an organization that starts now: the newest timeline and refinance-audit ids."""
    return _max_id(Activity._meta.db_table), _max_id(RefinanceEvent._meta.db_table)


def _holes(table: str, after: int, upto: int) -> list[Range]:
    """The id ranges in (after, upto] with no visible row (taken by a running or rolled-back transaction)."""
    if upto <= after:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT prev + 1, id - 1 FROM (
                SELECT id, LAG(id, 1, CAST(%s AS bigint)) OVER (ORDER BY id) AS prev
                FROM {table} WHERE id > %s AND id <= %s
            ) s WHERE id > prev + 1
            """,
            [after, after, upto],
        )
        holes = [(int(lo), int(hi)) for lo, hi in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), %s) FROM {table} WHERE id > %s AND id <= %s", [after, after, upto])
        last = int(cursor.fetchone()[0])
    if last < upto:
        holes.append((last + 1, upto))
    return holes


def _subscriptions(endpoints: list[WebhookEndpoint]) -> tuple[str, list[Any]]:
    """(SQL rows ``s`` of endpoint id, event type, since; params) for the endpoints' subscribed event types."""
    rows, params = [], []
    for endpoint in endpoints:
        for event in endpoint.events or EVENT_TYPES:
            rows.append("SELECT CAST(%s AS bigint) AS endpoint_id, %s AS event_type")
            params += [endpoint.pk, event]
    return " UNION ALL ".join(rows), params


def _queue(source: Source, *, org_id: int, endpoints: list[WebhookEndpoint], ranges: list[Range], now: Any) -> int:
    """One INSERT … SELECT: every row of ``ranges`` × every endpoint subscribed to its event type (and created
    before it); an existing (endpoint, event id) is skipped."""
    if not ranges:
        return 0
    where = " OR ".join([f"({source.alias}.id BETWEEN %s AND %s)"] * len(ranges))
    subscriptions, subscription_params = _subscriptions(endpoints)
    since = " ".join("WHEN %s THEN %s" for _ in endpoints)
    sql = f"""
        INSERT INTO {WebhookDelivery._meta.db_table} (organization_id, endpoint_id, event_id, event_type,
            {source.id_column}, occurred_at, status, attempts, next_attempt_at, claim_token, response_body, error,
            created_at, updated_at)
        SELECT %s, s.endpoint_id, 'msg_{source.prefix}' || x.id, x.event_type, x.id, x.occurred_at, 'pending', 0,
            %s, '', '', '', %s, %s
        FROM ({source.select.replace("%(org)s", "%s").replace("{ranges}", where)}) x
        JOIN ({subscriptions}) s ON s.event_type = x.event_type
        WHERE x.created_at >= CASE s.endpoint_id {since} END
        ON CONFLICT DO NOTHING
    """
    at = connection.ops.adapt_datetimefield_value(now)
    params: list[Any] = [org_id, at, at, at, org_id]
    for lo, hi in ranges:
        params += [lo, hi]
    params += subscription_params
    for endpoint in endpoints:
        params += [endpoint.pk, connection.ops.adapt_datetimefield_value(endpoint.created_at)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _advance(source: Source, cursor_row: WebhookCursor, *, high: int, now: dt.datetime) -> tuple[list[Range], list]:
    """(ranges to read now, the gaps to keep) for one source."""
    start = getattr(cursor_row, source.cursor_field)
    stamp = int(now.timestamp())
    ranges: list[Range] = []
    gaps: list[list[int]] = []
    for lo, hi, seen in getattr(cursor_row, source.gaps_field):
        if stamp - seen > GAP_SECONDS:
            continue
        ranges.append((lo, hi))
        gaps += [[a, b, seen] for a, b in _holes(source.table, lo - 1, hi)]
    if high > start:
        ranges.append((start + 1, high))
        gaps += [[a, b, stamp] for a, b in _holes(source.table, start, high)]
    return ranges, gaps[-MAX_GAPS:]


def _collect_organization(org_id: int, *, now: dt.datetime) -> int:
    with transaction.atomic():
        endpoints = list(WebhookEndpoint.objects.filter(organization_id=org_id, is_active=True).order_by("pk"))
        if not endpoints:
            return 0
        activity_start, refinance_start = cursor_start()
        cursor_row, _ = WebhookCursor.objects.select_for_update().get_or_create(
            organization_id=org_id,
            defaults={"activity_id": activity_start, "refinance_event_id": refinance_start},
        )
        queued = 0
        for source in _sources():
            high = _max_id(source.table)
            ranges, gaps = _advance(source, cursor_row, high=high, now=now)  # gaps first, then read (see module)
            queued += _queue(source, org_id=org_id, endpoints=endpoints, ranges=ranges, now=now)
            setattr(cursor_row, source.cursor_field, max(high, getattr(cursor_row, source.cursor_field)))
            setattr(cursor_row, source.gaps_field, gaps)
        cursor_row.save()
        return queued


def webhooks_collect(*, organization: Organization | None = None, now: dt.datetime | None = None) -> int:
    """Queue a delivery per subscribed active endpoint for every new event; returns how many were queued.

    Idempotent: a second run queues nothing new; two runs at once serialise on the organization's cursor row.
    """
    now = now or timezone.now()
    orgs = WebhookEndpoint.objects.filter(is_active=True)
    if organization is not None:
        orgs = orgs.filter(organization=organization)
    return sum(
        _collect_organization(org_id, now=now)
        for org_id in orgs.values_list("organization_id", flat=True).distinct().order_by("organization_id")
    )
