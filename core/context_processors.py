from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.formatting import zone_label
from core.tenancy import profile_for


def workspace(request: HttpRequest) -> dict[str, Any]:
    """The signed-in staff profile and organization, and the zone every time on the page is in (said once)."""
    profile = profile_for(getattr(request, "user", None))
    return {
        "profile": profile,
        "organization": profile.organization if profile else None,
        "time_zone_label": zone_label(),
    }
