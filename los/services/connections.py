"""Creating, changing and testing LOS connections (the admin and ``los_connection`` call the same functions)."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction

from core.models import Organization
from los import secrets
from los.encompass import EncompassClient, EncompassError
from los.models import LosConnection
from los.storage import FolderError, folder_storage

DEFAULT_BASE_URL = "https://api.elliemae.com"
DEFAULT_NAMES = {LosConnection.Kind.ENCOMPASS: "Encompass", LosConnection.Kind.FOLDER: "Drop folder"}
FIELDS = ["enabled", "base_url", "client_id", "instance_id", "folder", "schedule", "run_at", "weekday"]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def los_connection_validate(connection: LosConnection, *, secret: str | None) -> None:
    """Model checks plus what each kind needs; raises ValidationError keyed by field."""
    errors: dict[str, list[str]] = {}
    try:
        connection.full_clean(exclude=["organization"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if connection.kind == LosConnection.Kind.ENCOMPASS:
        for name, label in (("base_url", "API base URL"), ("client_id", "client id"), ("instance_id", "instance id")):
            if not getattr(connection, name):
                errors.setdefault(name, []).append(f"An Encompass connection needs its {label}.")
        url = urlsplit(connection.base_url or "")
        if connection.base_url and url.scheme != "https" and not _loopback(url.hostname or ""):
            errors.setdefault("base_url", []).append("Use https (the token and the client secret travel on it).")
        if not secret and not connection.client_secret_encrypted:
            errors.setdefault("client_secret", []).append("An Encompass connection needs its client secret.")
    elif connection.kind == LosConnection.Kind.FOLDER:
        if not connection.folder:
            errors.setdefault("folder", []).append("A drop folder needs a directory or an s3://bucket/prefix.")
        else:
            try:
                folder_storage(connection.folder)
            except FolderError as exc:
                errors.setdefault("folder", []).append(str(exc))
    if connection.schedule == LosConnection.Schedule.WEEKLY and connection.weekday is None:
        errors.setdefault("weekday", []).append("A weekly schedule needs its weekday.")
    if connection.schedule == LosConnection.Schedule.DAILY:
        connection.weekday = None
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def los_connection_save(
    *,
    organization: Organization,
    kind: str,
    name: str | None = None,
    client_secret: str | None = None,
    connection: LosConnection | None = None,
    **values: Any,
) -> tuple[LosConnection, str]:
    """Create or update a connection (by organization and name): ``(connection, "created"|"updated"|"unchanged")``.

    ``values`` are the fields of FIELDS; those not given keep their value. A blank ``client_secret`` keeps the
    stored one; a given one is stored encrypted (and never read back by any page).
    """
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown connection fields: {sorted(unknown)}")
    name = name or (connection.name if connection else DEFAULT_NAMES[LosConnection.Kind(kind)])
    if connection is None:
        connection = LosConnection.objects.select_for_update().filter(
            organization=organization, name=name
        ).first() or LosConnection(organization=organization, kind=kind, name=name)
    created = connection.pk is None
    if created and kind == LosConnection.Kind.ENCOMPASS and not values.get("base_url"):
        values["base_url"] = DEFAULT_BASE_URL
    before = {field: getattr(connection, field) for field in ["kind", "name", *FIELDS]}
    connection.kind, connection.name = kind, name
    for field, value in values.items():
        if value is not None:
            setattr(connection, field, value)
    los_connection_validate(connection, secret=client_secret)
    secret_changed = bool(client_secret) and (
        not connection.client_secret_encrypted or _stored_secret(connection) != client_secret
    )
    if secret_changed:
        connection.client_secret_encrypted = secrets.encrypt(client_secret or "")
    after = {field: getattr(connection, field) for field in ["kind", "name", *FIELDS]}
    if not created and after == before and not secret_changed:
        return connection, "unchanged"
    if not created and _source_changed(before, after):
        connection.modified_watermark = None  # another instance or folder: start with a full pull
    connection.save()
    return connection, "created" if created else "updated"


def _stored_secret(connection: LosConnection) -> str | None:
    try:
        return secrets.decrypt(connection.client_secret_encrypted)
    except secrets.SecretUnreadable:
        return None


def _source_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return any(before[field] != after[field] for field in ("kind", "base_url", "instance_id", "folder"))


def encompass_client_for(connection: LosConnection, **options: Any) -> EncompassClient:
    if connection.kind != LosConnection.Kind.ENCOMPASS:
        raise EncompassError(f"{connection.name} is not an Encompass connection.")
    try:
        secret = secrets.decrypt(connection.client_secret_encrypted) if connection.client_secret_encrypted else ""
    except secrets.SecretUnreadable as exc:
        raise EncompassError(str(exc)) from exc
    return EncompassClient(
        base_url=connection.base_url,
        client_id=connection.client_id,
        client_secret=secret,
        instance_id=connection.instance_id,
        **options,
    )


def los_connection_test(*, connection: LosConnection, **options: Any) -> tuple[bool, str]:
    """ "Test connection": ``(ok, message)`` — Encompass: a token and a one-loan pipeline call; a folder: it can
    be listed, with the exports waiting in it."""
    if connection.kind == LosConnection.Kind.ENCOMPASS:
        try:
            return True, encompass_client_for(connection, max_attempts=2, **options).check()
        except EncompassError as exc:
            return False, str(exc)
    try:
        storage = folder_storage(connection.folder)
        waiting = [name for name in storage.listdir("")[1] if name.lower().endswith((".csv", ".xml"))]
    except (FolderError, OSError) as exc:
        return False, f"Cannot read {connection.folder}: {exc}"
    return True, f"Folder {connection.folder} is readable; {len(waiting)} export file(s) waiting."
