from __future__ import annotations

from automations.defaults import DEFAULT_STATUS_TEMPLATES
from automations.models import StatusTemplate
from core.choices import Channel
from core.models import Organization


def status_templates_ensure(*, organization: Organization) -> int:
    """Create the default refinance status emails the organization does not have yet (an edited or blanked one
    is left alone); returns how many were created."""
    have = {
        name.lower()
        for name in StatusTemplate.objects.filter(organization=organization, channel=Channel.EMAIL).values_list(
            "milestone", flat=True
        )
    }
    missing = [
        StatusTemplate(
            organization=organization, milestone=milestone, channel=Channel.EMAIL, subject=subject, body=body
        )
        for milestone, (subject, body) in DEFAULT_STATUS_TEMPLATES.items()
        if milestone.lower() not in have
    ]
    StatusTemplate.objects.bulk_create(missing)
    return len(missing)
