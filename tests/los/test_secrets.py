"""Client secrets at rest: Fernet with FIELD_ENCRYPTION_KEY (rotation by a list of keys; clear failures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from los import secrets
from los.models import LosSync
from los.services.connections import los_connection_save
from los.services.sync import los_sync_run

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_round_trip_and_rotation(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    token = secrets.encrypt("client-secret")
    assert "client-secret" not in token and secrets.decrypt(token) == "client-secret"
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"  # rotation: the new key encrypts, the old one still reads
    assert secrets.decrypt(token) == "client-secret"
    assert Fernet(NEW.encode()).decrypt(secrets.encrypt("x").encode()) == b"x"


def test_a_replaced_key_is_a_clear_error(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    token = secrets.encrypt("client-secret")
    settings.FIELD_ENCRYPTION_KEY = NEW
    with pytest.raises(secrets.SecretUnreadable, match="cannot be decrypted with FIELD_ENCRYPTION_KEY"):
        secrets.decrypt(token)
    settings.FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
    with pytest.raises(ImproperlyConfigured, match="must be a Fernet key"):
        secrets.encrypt("x")


@pytest.mark.django_db
def test_a_sync_with_an_unreadable_secret_fails_and_says_so(admin, settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    connection, _ = los_connection_save(
        organization=admin.organization, kind="encompass", client_id="id", client_secret="secret", instance_id="BE1"
    )
    settings.FIELD_ENCRYPTION_KEY = NEW
    sync = los_sync_run(connection=connection, trigger=LosSync.Trigger.COMMAND)
    assert sync.status == LosSync.Status.FAILED
    assert "Enter the client secret again" in sync.message


def test_production_settings_refuse_to_start_without_the_key():
    env = {k: v for k, v in os.environ.items() if k not in {"FIELD_ENCRYPTION_KEY", "DJANGO_SETTINGS_MODULE"}}
    env.update(DEBUG="0", SECRET_KEY="prod-like-" + "k3y" * 20, DATABASE_URL="sqlite:////tmp/los-never-used.db")
    completed = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode != 0
    assert "FIELD_ENCRYPTION_KEY must be set when DEBUG is off" in completed.stderr
