"""A fixed-window request counter per API token, in the shared cache (Redis in production: atomic INCR
across processes; LocMem in tests and on a single-process demo)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimit:
    allowed: bool
    limit: int
    count: int
    retry_after: int  # seconds until the window resets


def rate_limit_hit(*, token_id: int, now: float | None = None) -> RateLimit:
    """Count one request for ``token_id`` in the current minute and say whether it is within the limit."""
    now = time.time() if now is None else now
    limit = int(settings.API_RATE_LIMIT_PER_MINUTE)
    window = int(now // WINDOW_SECONDS)
    key = f"refiapp:api-rate:{token_id}:{window}"
    cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.add(key, 1, timeout=WINDOW_SECONDS * 2)
        count = 1
    retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    return RateLimit(allowed=count <= limit, limit=limit, count=count, retry_after=retry_after)
