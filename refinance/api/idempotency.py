"""Idempotency-Key handling (IETF draft-ietf-httpapi-idempotency-key-header, Stripe's semantics).

Keys are per API token (not per organization: a colleague's token reusing a key must not get the first
token's transaction back, nor learn that it exists). The first request with a key claims it (a committed row,
completed_at empty), runs, and stores its response in the same database transaction as its business writes.
A retry with the same key and the same request gets the stored response again; with a different request →
422; while the first is still running → 409. Requests that fail validation (400) release the key. A claim
left behind by a crashed process (its business transaction rolled back with it) can be taken over after
ABANDONED_AFTER.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import ApiToken
from refinance.models import IdempotencyRecord

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as the header allows
ABANDONED_AFTER = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Claim:
    record: IdempotencyRecord | None = None  # ours to run and complete
    replay: IdempotencyRecord | None = None  # completed earlier with the same request
    conflict: bool = False  # used earlier with a different request
    in_progress: bool = False  # the first request is still running


def request_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a validated request (keys sorted, no whitespace)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_claim(*, token: ApiToken, key: str, request_hash: str) -> Claim:
    for _attempt in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    organization_id=token.organization_id, token=token, key=key, request_hash=request_hash
                )
            return Claim(record=record)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(token=token, key=key).first()
        if existing is None:
            continue  # released between our insert and our read: try again
        if existing.request_hash != request_hash:
            return Claim(conflict=True)
        if existing.completed_at is not None:
            return Claim(replay=existing)
        now = timezone.now()
        taken = IdempotencyRecord.objects.filter(
            pk=existing.pk, completed_at__isnull=True, created_at__lt=now - ABANDONED_AFTER
        ).update(created_at=now)
        return Claim(record=existing) if taken else Claim(in_progress=True)
    return Claim(in_progress=True)


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: dict[str, Any]) -> None:
    record.response_status = status
    record.response_body = body
    record.completed_at = timezone.now()
    record.save(update_fields=["response_status", "response_body", "completed_at"])


def idempotency_release(*, record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, completed_at__isnull=True).delete()
