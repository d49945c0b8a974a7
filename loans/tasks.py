"""django-q2 task functions of the loans app: they only call services (STYLE §10)."""

from __future__ import annotations

from loans.services.uploads import uploads_expire


def expire_uploads() -> int:
    """Daily: delete stored uploads older than UPLOAD_RETENTION_DAYS (their import rows stay)."""
    return uploads_expire()
